"""A torchvision dataset already on disk (the ``vision`` extra); never downloaded.

Its official test split is the test split, and val is cut from its official training split
(:mod:`tempopt.tasks.images`), so nothing is ever selected on the test images.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import TensorDataset

from tempopt.errors import TaskError
from tempopt.tasks._task import Task
from tempopt.tasks.images import image_task, split_off
from tempopt.tasks.models import check_widths


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
    return image_task(
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
