"""The built-in tasks that need no files: digits and mnist1d."""

from __future__ import annotations

import pytest
import torch

from tempopt.distill import JobConfig, prepare_teacher, run_job
from tempopt.errors import TaskError
from tempopt.tasks import Task, load_task

SMALL = {
    "digits": {"labelled": 300},
    "mnist1d": {"labelled": 200, "val": 100, "test": 100, "transfer": 300},
}
INPUT_SHAPE = {"digits": (64,), "mnist1d": (40,)}


def _n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("name", sorted(SMALL))
def test_a_builtin_task_is_well_formed(name):
    task = load_task(name, SMALL[name])
    assert isinstance(task, Task) and task.name == name and task.num_classes == 10
    x, y = task.train.tensors
    assert x.shape[1:] == INPUT_SHAPE[name] and x.dtype == torch.float32
    assert y.dtype == torch.long and set(y.tolist()) <= set(range(10)) and len(set(y.tolist())) == 10
    for held_out in (task.val, task.test):
        xv, yv = held_out.tensors
        assert xv.shape[1:] == x.shape[1:] and len(xv) == len(yv) > 0
    (xt,) = task.transfer.tensors  # unlabelled
    assert xt.shape[1:] == x.shape[1:]
    for model in (task.teacher(), task.student()):
        assert model(x[:5]).shape == (5, 10)
    assert _n_params(task.teacher()) > 5 * _n_params(task.student())  # a much bigger teacher
    assert task.meta["n_train"] == len(x) and task.meta["n_transfer"] == len(xt)
    assert task.meta["n_val"] == len(task.val) and task.meta["n_test"] == len(task.test)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_a_builtin_task_is_the_same_every_time(name):
    a, b = load_task(name, SMALL[name]), load_task(name, SMALL[name])
    for ds_a, ds_b in ((a.train, b.train), (a.val, b.val), (a.test, b.test), (a.transfer, b.transfer)):
        assert all(torch.equal(s, t) for s, t in zip(ds_a.tensors, ds_b.tensors, strict=True))


def test_digits_splits_and_sizes():
    full = load_task("digits")
    assert len(full.train) + len(full.val) + len(full.test) == 1797 and full.transfer is None
    assert (len(full.test), len(full.val), len(full.train)) == (int(1797 * 0.3), int(1797 * 0.2), 899)
    x = full.train.tensors[0]
    assert 0.0 <= x.min() and x.max() <= 1.0
    part = load_task("digits", {"labelled": 300})
    assert len(part.train) == 300 and len(part.transfer) == len(full.train) - 300
    # the labelled and transfer images are the training pool, never the validation or test images
    together = torch.cat([part.train.tensors[0], part.transfer.tensors[0]])
    assert torch.equal(together.sort(0).values, x.sort(0).values)
    assert torch.equal(part.val.tensors[0], full.val.tensors[0])
    assert torch.equal(part.test.tensors[0], full.test.tensors[0])


def test_digits_with_every_label_has_no_transfer_set():
    task = load_task("digits", {"labelled": 899})
    assert task.transfer is None and len(task.train) == 899


@pytest.mark.parametrize(
    "args",
    [{"labelled": 0}, {"labelled": 5000}, {"val_fraction": 1.5}, {"test_fraction": -0.1}, {"teacher_labels": "x"}],
)
def test_digits_refuses_bad_arguments(args):
    with pytest.raises(TaskError, match=next(iter(args))):
        load_task("digits", args)


def test_mnist1d_sizes_and_an_unlabelled_transfer_set_of_other_sequences():
    task = load_task("mnist1d", SMALL["mnist1d"])
    assert (len(task.train), len(task.val), len(task.test), len(task.transfer)) == (200, 100, 100, 300)
    assert len(task.transfer.tensors) == 1
    train_rows = {tuple(r.tolist()) for r in task.train.tensors[0]}
    assert not any(tuple(r.tolist()) in train_rows for r in task.transfer.tensors[0][:50])
    assert load_task("mnist1d", {**SMALL["mnist1d"], "transfer": 0}).transfer is None


@pytest.mark.parametrize(
    "args, words",
    [({"labelled": 5}, "labelled=5"), ({"test": 9}, "test=9"), ({"transfer_seed": 42}, "transfer_seed")],
)
def test_mnist1d_refuses_bad_arguments(args, words):
    with pytest.raises(TaskError, match=words):
        load_task("mnist1d", {**SMALL["mnist1d"], **args})


def test_changing_a_loaded_task_does_not_change_the_next_one():
    """mnist1d caches the generated arrays; a task must not share their memory."""
    args = {"labelled": 30, "val": 20, "test": 20, "transfer": 40}
    first = load_task("mnist1d", args)
    before = load_task("mnist1d", args).train.tensors[0].clone()
    first.train.tensors[0].add_(100.0)  # e.g. a user normalising in place
    first.transfer.tensors[0].add_(100.0)
    again = load_task("mnist1d", args)
    assert torch.equal(again.train.tensors[0], before)
    assert again.transfer.tensors[0].abs().max() < 50


def test_mnist1d_leaves_numpys_global_state_alone():
    import numpy as np

    np.random.seed(5)
    before = np.random.get_state()[1].copy()
    load_task("mnist1d", {"labelled": 30, "val": 20, "test": 20, "transfer": 40, "data_seed": 7, "transfer_seed": 8})
    assert (np.random.get_state()[1] == before).all()


def test_on_digits_the_teacher_beats_the_student_alone_and_distillation_helps(tmp_path):
    """The quickstart's regime: 200 labels for the student, the 899 of the pool for the teacher.

    Fair: the same optimizer steps for both sides, each at its best lr of the same grid.
    """
    task = load_task("digits", {"labelled": 200})
    teacher = prepare_teacher(task, tmp_path, device="cpu")

    def best(kd_weight: float) -> float:
        configs = [
            JobConfig(temperature=4.0, kd_weight=kd_weight, lr=lr, epochs=30, batch_size=32, seed=1, device="cpu")
            for lr in (0.01, 0.03, 0.1)
        ]
        teacher_or_none = teacher if kd_weight else None
        return max(run_job(task, c, teacher_or_none, measure_test=True).test_accuracy for c in configs)

    alone, distilled = best(0.0), best(0.7)
    assert teacher.test_accuracy > alone + 0.03
    assert distilled > alone + 0.03  # the transfer set pays off
