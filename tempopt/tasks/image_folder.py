"""Image data from local class folders, read with Pillow only (no torchvision).

Nothing is downloaded. ``ROOT/train/<class>/*.png``, ``ROOT/val/<class>/*.png`` and
``ROOT/test/<class>/*.png`` (any format Pillow reads) become tensors ``(3, size, size)`` scaled to
[0, 1] and standardised per channel with the training set's statistics. Without a test folder
the val folder is split in half (:mod:`tempopt.tasks.images`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, TensorDataset

from tempopt.errors import TaskError
from tempopt.tasks._task import Task
from tempopt.tasks.images import image_task, materialise, split_off
from tempopt.tasks.models import check_widths

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


class ImageFolderDataset(Dataset):
    """Images in ``root/<class>/<file>``, read with Pillow; classes sorted by folder name."""

    def __init__(self, root: str | Path, size: int, classes: list[str] | None = None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise TaskError(f"image folder {str(self.root)!r} does not exist; give a folder of class sub-folders.")
        found = sorted(p.name for p in self.root.iterdir() if p.is_dir())
        self.classes = classes if classes is not None else found
        if not self.classes:
            raise TaskError(f"image folder {str(self.root)!r} has no class sub-folders; put images in ROOT/<class>/.")
        self.size = size
        self.samples: list[tuple[Path, int]] = []
        for label, name in enumerate(self.classes):
            folder = self.root / name
            files = sorted(p for p in folder.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []
            self.samples += [(p, label) for p in files]
        if not self.samples:
            raise TaskError(f"image folder {str(self.root)!r} has no images ({', '.join(sorted(IMAGE_SUFFIXES))}).")

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        from PIL import Image

        path, label = self.samples[i]
        with Image.open(path) as img:
            rgb = img.convert("RGB").resize((self.size, self.size), Image.Resampling.BILINEAR)
            array = np.asarray(rgb, dtype=np.float32) / 255.0  # (H, W, 3)
        return torch.from_numpy(array).permute(2, 0, 1).contiguous(), label  # (3, H, W)

    def fingerprint(self) -> str:
        """Hash of paths, sizes and modification times: cheap, and changes with the files."""
        h = hashlib.sha256(str((self.size, self.classes)).encode())
        for path, label in self.samples:
            st = path.stat()
            h.update(f"{path.relative_to(self.root)}:{label}:{st.st_size}:{st.st_mtime_ns}".encode())
        return h.hexdigest()


def make_image_folder(
    root: str,
    size: int = 32,
    train_dir: str = "train",
    val_dir: str = "val",
    test_dir: str = "test",
    transfer_dir: str | None = None,
    teacher_width: int = 64,
    student_width: int = 16,
    teacher_checkpoint: str | None = None,
    teacher_epochs: int = 30,
    split_seed: int = 0,
    teacher_arch: str | None = None,
    student_arch: str | None = None,
) -> Task:
    """Images in ``root/train/<class>/*``, ``root/val/<class>/*`` and optionally ``root/test/<class>/*``.

    No torchvision needed. The test folder must have the classes of the training folder, like
    the val folder. Without a test folder the val images are split in half with ``split_seed``:
    the first half (the larger when odd) stays val, the second becomes test (``meta["test_from"]``
    is ``"val"``, else ``"folder"``).

    Args:
        root: the folder holding ``train_dir``, ``val_dir`` and ``test_dir``.
        size: images are resized to ``size × size``.
        test_dir: the folder of test images; when it does not exist the val folder is split.
        transfer_dir: optional folder of unlabelled images (class sub-folders or flat).
        teacher_width, student_width: channels of the first convolution of each CNN.
        teacher_arch, student_arch: a residual network (``resnet8`` … ``resnet32x4``) instead
            of the CNN of ``teacher_width`` / ``student_width``; None keeps the CNN.
        teacher_checkpoint: a saved teacher state_dict to use instead of training one.
        teacher_epochs: epochs to train the teacher when there is no checkpoint.
        split_seed: seed of the val/test split when there is no test folder.

    Raises:
        TaskError: for a missing or empty folder, a val folder of one image and no test folder, or
            an unknown architecture.
    """
    check_widths(teacher_width=teacher_width, student_width=student_width)
    base = Path(root)
    train_raw = ImageFolderDataset(base / train_dir, size)
    val = materialise(ImageFolderDataset(base / val_dir, size, classes=train_raw.classes))
    if (base / test_dir).is_dir():
        test = materialise(ImageFolderDataset(base / test_dir, size, classes=train_raw.classes))
        test_from, test_note = "folder", f"test from {test_dir}/"
    else:
        val, test = _halve(val, base / val_dir, base / test_dir, split_seed)
        test_from, test_note = "val", f"no {test_dir}/ folder, so test is half of {val_dir}/"
    transfer = None
    if transfer_dir is not None:
        transfer = TensorDataset(_read_flat_or_nested(base / transfer_dir, size))
    meta = {
        "root": str(base),
        "classes": train_raw.classes,
        "n_train": len(train_raw),
        "n_val": len(val),
        "n_test": len(test),
        "test_from": test_from,
    }
    return image_task(
        materialise(train_raw),
        val,
        test,
        transfer,
        len(train_raw.classes),
        "image_folder",
        teacher_width,
        student_width,
        teacher_checkpoint,
        teacher_epochs,
        meta,
        test_note,
        teacher_arch,
        student_arch,
    )


def _halve(val: TensorDataset, val_dir: Path, test_dir: Path, seed: int) -> tuple[TensorDataset, TensorDataset]:
    """``(val, test)``: a seeded split of the val images in two, the larger half (when odd) val."""
    if len(val) < 2:
        raise TaskError(
            f"val folder {str(val_dir)!r} has {len(val)} image and there is no {str(test_dir)!r}; "
            "add val images or a test folder of class sub-folders."
        )
    return split_off(val, len(val) - len(val) // 2, seed)


def _read_flat_or_nested(folder: Path, size: int) -> Tensor:
    if not folder.is_dir():
        raise TaskError(f"transfer_dir {str(folder)!r} does not exist; give a folder of images.")
    flat = any(p.suffix.lower() in IMAGE_SUFFIXES for p in folder.iterdir())
    ds = ImageFolderDataset(folder.parent, size, classes=[folder.name]) if flat else ImageFolderDataset(folder, size)
    return materialise(ds).tensors[0]
