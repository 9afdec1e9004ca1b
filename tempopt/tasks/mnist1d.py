"""MNIST-1D (Greydanus, 2020), generated locally by the ``mnist1d`` package, with a transfer set.

A CNN teacher is much stronger than an MLP student here, and the student gains from the
teacher mostly through the unlabelled transfer set: plain KD on the labelled samples alone
barely moves it. The labelled, validation and test sequences come from one generator run with
``data_seed`` (split in that order); the transfer set from another run with ``transfer_seed``.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch.utils.data import TensorDataset

from tempopt.errors import TaskError
from tempopt.tasks._task import Task
from tempopt.tasks.models import MLP, ConvNet1d, check_widths

LENGTH = 40


@functools.lru_cache(maxsize=4)
def _generate(num_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``num_samples`` MNIST-1D sequences ``(N, 40)`` and labels ``(N,)`` made with ``seed``."""
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = num_samples
    args.seed = seed
    args.train_split = 1.0  # everything in 'x'; tempopt does its own split
    state = np.random.get_state()
    try:
        data = make_dataset(args)  # seeds NumPy's global generator itself
    finally:
        np.random.set_state(state)
    return data["x"].astype(np.float32), data["y"].astype(np.int64)


def make_mnist1d(
    labelled: int = 4000,
    val: int = 1000,
    test: int = 1000,
    transfer: int = 20000,
    data_seed: int = 42,
    transfer_seed: int = 4242,
    student_hidden: int = 64,
    teacher_channels: int = 64,
    teacher_epochs: int = 40,
) -> Task:
    """MNIST-1D: 10 classes of length-40 signals; CNN teacher, one-hidden-layer MLP student.

    Args:
        labelled: labelled training sequences.
        val: validation sequences (same generator and seed as the labelled ones).
        test: held-out test sequences for the final verdict (same generator and seed).
        transfer: unlabelled sequences made with ``transfer_seed``; 0 for none.
        data_seed: seed of the labelled, validation and test data.
        transfer_seed: seed of the transfer set; must differ from ``data_seed``.
        student_hidden: width of the student's hidden layer.
        teacher_channels: channels of the teacher's convolutions.
        teacher_epochs: epochs to train the teacher.

    Raises:
        TaskError: if ``labelled``, ``val`` or ``test`` is below 10, or the two seeds are equal.
    """
    check_widths(student_hidden=student_hidden, teacher_channels=teacher_channels)
    if min(labelled, val, test) < 10:
        raise TaskError(f"labelled={labelled}, val={val} and test={test} must each be at least 10; raise them.")
    if transfer and transfer_seed == data_seed:
        raise TaskError("transfer_seed must differ from data_seed, or the transfer set repeats the labelled data.")
    x, y = _generate(labelled + val + test, data_seed)
    xt = torch.tensor(x)  # copies: the arrays belong to _generate's cache and must stay intact
    yt = torch.tensor(y)
    transfer_set = None
    if transfer:
        tx, _ = _generate(transfer, transfer_seed)
        transfer_set = TensorDataset(torch.tensor(tx))
    return Task(
        train=TensorDataset(xt[:labelled], yt[:labelled]),
        val=TensorDataset(xt[labelled : labelled + val], yt[labelled : labelled + val]),
        test=TensorDataset(xt[labelled + val :], yt[labelled + val :]),
        num_classes=10,
        teacher=lambda: ConvNet1d(LENGTH, 10, channels=teacher_channels),
        student=lambda: MLP(LENGTH, [student_hidden], 10),
        name="mnist1d",
        transfer=transfer_set,
        teacher_epochs=teacher_epochs,
        description=f"MNIST-1D, CNN({teacher_channels}) teacher -> MLP({student_hidden}) student",
        meta={"n_train": labelled, "n_val": val, "n_test": test, "n_transfer": transfer},
    )
