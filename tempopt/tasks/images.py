"""Image data from local paths: class folders (Pillow only) or a torchvision dataset.

Nothing is downloaded. ``image_folder`` needs no torchvision: ``ROOT/train/<class>/*.png`` and
``ROOT/val/<class>/*.png`` (any format Pillow reads) become tensors ``(3, size, size)`` scaled
to [0, 1] and standardised per channel with the training set's statistics.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, TensorDataset

from tempopt.errors import TaskError
from tempopt.tasks._registry import register_task
from tempopt.tasks._task import Task
from tempopt.tasks.models import ConvNet2d

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


def _image_task(
    train: TensorDataset,
    val: TensorDataset,
    transfer: TensorDataset | None,
    num_classes: int,
    name: str,
    teacher_width: int,
    student_width: int,
    teacher_checkpoint: str | None,
    teacher_epochs: int,
    meta: dict,
) -> Task:
    train_s, val_s, transfer_s = standardise(train, val, transfer)
    channels = train.tensors[0].shape[1]
    return Task(
        train=train_s,  # type: ignore[arg-type]
        val=val_s,  # type: ignore[arg-type]
        num_classes=num_classes,
        teacher=lambda: ConvNet2d(channels, num_classes, width=teacher_width, depth=3),
        student=lambda: ConvNet2d(channels, num_classes, width=student_width, depth=2),
        name=name,
        transfer=transfer_s,
        teacher_checkpoint=teacher_checkpoint,
        teacher_epochs=teacher_epochs,
        description=f"{name}: CNN({teacher_width}) teacher -> CNN({student_width}) student",
        meta=meta,
    )


@register_task("image_folder")
def make_image_folder(
    root: str,
    size: int = 32,
    train_dir: str = "train",
    val_dir: str = "val",
    transfer_dir: str | None = None,
    teacher_width: int = 64,
    student_width: int = 16,
    teacher_checkpoint: str | None = None,
    teacher_epochs: int = 30,
) -> Task:
    """Images in ``root/train/<class>/*`` and ``root/val/<class>/*``; no torchvision needed.

    Args:
        root: the folder holding ``train_dir`` and ``val_dir``.
        size: images are resized to ``size × size``.
        transfer_dir: optional folder of unlabelled images (class sub-folders or flat).
        teacher_width, student_width: channels of the first convolution of each CNN.
        teacher_checkpoint: a saved teacher state_dict to use instead of training one.
        teacher_epochs: epochs to train the teacher when there is no checkpoint.
    """
    base = Path(root)
    train_raw = ImageFolderDataset(base / train_dir, size)
    val_raw = ImageFolderDataset(base / val_dir, size, classes=train_raw.classes)
    transfer = None
    if transfer_dir is not None:
        transfer = TensorDataset(_read_flat_or_nested(base / transfer_dir, size))
    return _image_task(
        materialise(train_raw), materialise(val_raw), transfer, len(train_raw.classes), "image_folder",
        teacher_width, student_width, teacher_checkpoint, teacher_epochs,
        {"root": str(base), "classes": train_raw.classes, "n_train": len(train_raw), "n_val": len(val_raw)},
    )


def _read_flat_or_nested(folder: Path, size: int) -> Tensor:
    if not folder.is_dir():
        raise TaskError(f"transfer_dir {str(folder)!r} does not exist; give a folder of images.")
    flat = any(p.suffix.lower() in IMAGE_SUFFIXES for p in folder.iterdir())
    ds = ImageFolderDataset(folder.parent, size, classes=[folder.name]) if flat else ImageFolderDataset(folder, size)
    return materialise(ds).tensors[0]


@register_task("torchvision")
def make_torchvision(
    dataset: str,
    root: str,
    teacher_width: int = 64,
    student_width: int = 16,
    teacher_checkpoint: str | None = None,
    teacher_epochs: int = 30,
) -> Task:
    """A torchvision dataset (``CIFAR10``, ``MNIST``, ``FashionMNIST``…) already on disk.

    Needs the ``vision`` extra (``pip install 'tempopt[vision]'``); never downloads.

    Args:
        dataset: the class name in ``torchvision.datasets``.
        root: the folder the dataset was downloaded to.
    """
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
        val_raw = cls(root=root, train=False, download=False)
    except (RuntimeError, OSError) as e:
        raise TaskError(
            f"{dataset} is not under {root!r} ({e}); download it there first, tempopt never downloads."
        ) from e
    train, val = _pil_to_tensors(train_raw), _pil_to_tensors(val_raw)
    classes = list(getattr(train_raw, "classes", []))
    return _image_task(
        train, val, None, len(classes) or int(train.tensors[1].max()) + 1, dataset.lower(),
        teacher_width, student_width, teacher_checkpoint, teacher_epochs,
        {"root": root, "dataset": dataset, "n_train": len(train), "n_val": len(val)},
    )


def _pil_to_tensors(dataset) -> TensorDataset:
    xs, ys = [], []
    for i in range(len(dataset)):
        img, label = dataset[i]
        array = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0  # (H, W, 3)
        xs.append(torch.from_numpy(array).permute(2, 0, 1))
        ys.append(int(label))
    return TensorDataset(torch.stack(xs), torch.tensor(ys))
