"""Image data from local paths: class folders (Pillow only) or a torchvision dataset.

Nothing is downloaded. ``image_folder`` needs no torchvision: ``ROOT/train/<class>/*.png``,
``ROOT/val/<class>/*.png`` and ``ROOT/test/<class>/*.png`` (any format Pillow reads) become
tensors ``(3, size, size)`` scaled to [0, 1] and standardised per channel with the training
set's statistics.

Every task has three disjoint splits: train, val (the search selects on it) and test (only the
verdict is measured on it). Without a test folder the val folder is split in half; a
torchvision dataset's official test split is the test split, and val is cut from its official
training split, so nothing is ever selected on the test images.
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
from tempopt.tasks.models import check_widths, image_model

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


def materialise(dataset: Dataset) -> TensorDataset:
    """Read every ``(x, y)`` of a dataset once into a TensorDataset (the fast path for jobs)."""
    xs, ys = zip(*(dataset[i] for i in range(len(dataset))), strict=True)  # type: ignore[arg-type]
    return TensorDataset(torch.stack([torch.as_tensor(x) for x in xs]), torch.as_tensor(ys))


def standardise(train: TensorDataset, *others: TensorDataset | None) -> list[TensorDataset | None]:
    """Per-channel standardisation of image tensors with the training set's mean and std."""
    x = train.tensors[0]
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    std = x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    out: list[TensorDataset | None] = []
    for ds in (train, *others):
        if ds is None:
            out.append(None)
            continue
        out.append(TensorDataset((ds.tensors[0] - mean) / std, *ds.tensors[1:]))
    return out


def split_off(dataset: TensorDataset, n_first: int, seed: int) -> tuple[TensorDataset, TensorDataset]:
    """A seeded random ``n_first`` samples of ``dataset``, and the rest: two disjoint datasets."""
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
    first, rest = order[:n_first], order[n_first:]
    return TensorDataset(*(t[first] for t in dataset.tensors)), TensorDataset(*(t[rest] for t in dataset.tensors))


def _image_task(
    train: TensorDataset,
    val: TensorDataset,
    test: TensorDataset,
    transfer: TensorDataset | None,
    num_classes: int,
    name: str,
    teacher_width: int,
    student_width: int,
    teacher_checkpoint: str | None,
    teacher_epochs: int,
    meta: dict,
    test_note: str,
    teacher_arch: str | None = None,
    student_arch: str | None = None,
) -> Task:
    train_s, val_s, test_s, transfer_s = standardise(train, val, test, transfer)
    channels = train.tensors[0].shape[1]
    teacher, teacher_name = image_model(teacher_arch, "teacher_arch", channels, num_classes, teacher_width, 3)
    student, student_name = image_model(student_arch, "student_arch", channels, num_classes, student_width, 2)
    return Task(
        train=train_s,  # type: ignore[arg-type]
        val=val_s,  # type: ignore[arg-type]
        test=test_s,
        num_classes=num_classes,
        teacher=teacher,
        student=student,
        name=name,
        transfer=transfer_s,
        teacher_checkpoint=teacher_checkpoint,
        teacher_epochs=teacher_epochs,
        description=f"{name}: {teacher_name} teacher -> {student_name} student; {test_note}",
        meta={**meta, "teacher_arch": teacher_name, "student_arch": student_name},
    )


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
    return _image_task(
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


def make_torchvision(
    dataset: str,
    root: str,
    val_fraction: float = 0.1,
    split_seed: int = 0,
    teacher_width: int = 64,
    student_width: int = 16,
    teacher_checkpoint: str | None = None,
    teacher_epochs: int = 30,
    teacher_arch: str | None = None,
    student_arch: str | None = None,
) -> Task:
    """A torchvision dataset (``CIFAR10``, ``MNIST``, ``FashionMNIST``…) already on disk.

    Needs the ``vision`` extra (``pip install 'tempopt[vision]'``); never downloads. The official
    training split (``train=True``) is split into train and val with ``split_seed``; the official
    test split (``train=False``) is the test split, never selected on.

    Args:
        dataset: the class name in ``torchvision.datasets``.
        root: the folder the dataset was downloaded to.
        val_fraction: share of the official training split held out for validation.
        split_seed: seed of the train/val split.
        teacher_width, student_width: channels of the first convolution of each CNN.
        teacher_arch, student_arch: a residual network (``resnet8`` … ``resnet32x4``) instead
            of the CNN of ``teacher_width`` / ``student_width``; None keeps the CNN.
        teacher_checkpoint: a saved teacher state_dict to use instead of training one.
        teacher_epochs: epochs to train the teacher when there is no checkpoint.

    Raises:
        TaskError: without a working torchvision, for an unknown dataset or one not on disk, or
            for a ``val_fraction`` outside (0, 1), or for an unknown architecture.
    """
    check_widths(teacher_width=teacher_width, student_width=student_width)
    if not 0.0 < val_fraction < 1.0:
        raise TaskError(f"val_fraction={val_fraction} must be between 0 and 1; try 0.1.")
    try:
        import torchvision.datasets as tvd
    except Exception as e:  # torchvision missing, or built for another torch
        raise TaskError(
            f"task 'torchvision' needs a working torchvision ({e}); install tempopt[vision], "
            "or convert the images to class folders and use task 'image_folder'."
        ) from e
    cls = getattr(tvd, dataset, None)
    if cls is None:
        raise TaskError(f"torchvision.datasets has no {dataset!r}; use a class name such as 'CIFAR10'.")
    try:
        train_raw = cls(root=root, train=True, download=False)
        test_raw = cls(root=root, train=False, download=False)
    except (RuntimeError, OSError) as e:
        raise TaskError(
            f"{dataset} is not under {root!r} ({e}); download it there first, tempopt never downloads."
        ) from e
    official_train, test = _pil_to_tensors(train_raw), _pil_to_tensors(test_raw)
    n_val = int(len(official_train) * val_fraction)
    if not 0 < n_val < len(official_train):
        raise TaskError(
            f"val_fraction={val_fraction} of {len(official_train)} training images leaves an empty split; "
            "choose a fraction nearer 0.1."
        )
    val, train = split_off(official_train, n_val, split_seed)
    classes = list(getattr(train_raw, "classes", []))
    meta = {"root": root, "dataset": dataset, "n_train": len(train), "n_val": len(val), "n_test": len(test)}
    return _image_task(
        train,
        val,
        test,
        None,
        len(classes) or int(official_train.tensors[1].max()) + 1,
        dataset.lower(),
        teacher_width,
        student_width,
        teacher_checkpoint,
        teacher_epochs,
        meta,
        f"val is {val_fraction:g} of the official train split, test the official test split",
        teacher_arch,
        student_arch,
    )


def _pil_to_tensors(dataset) -> TensorDataset:
    xs, ys = [], []
    for i in range(len(dataset)):
        img, label = dataset[i]
        array = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0  # (H, W, 3)
        xs.append(torch.from_numpy(array).permute(2, 0, 1))
        ys.append(int(label))
    return TensorDataset(torch.stack(xs), torch.tensor(ys))
