"""Students with BatchNorm or Dropout in a batch: each member trains as it does alone.

A member keeps its own running statistics and draws its dropout masks as its lone job does, so
K = 8 members (different T, λ, lr and loss variant) reach, epoch after epoch, the accuracies
and the weights they reach alone, and a member that stops or fails leaves the others as they were.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torch import nn

from tempopt.distill import JobConfig, prepare_teacher, run_job
from tempopt.distill.members import Member, can_batch, fit_members, member_config
from tempopt.distill.stack import StudentStack
from tempopt.tasks import Shift, load_task
from tempopt.tasks.models import MLP, ConvNet2d

VARIED = [  # (T, λ, lr, variant, args): lr is scaled per optimizer
    (1.0, 0.0, 0.01, "kd", {}),
    (4.0, 0.5, 0.02, "dkd", {"beta": 4.0}),
    (2.0, 0.9, 0.005, "standardized", {}),
    (8.0, 1.0, 0.03, "kd", {}),
    (3.0, 0.3, 0.05, "ttm", {"gamma": 0.3}),
    (1.5, 0.7, 0.001, "learned", {}),
    (10.0, 0.2, 0.09, "schedule", {}),
    (5.0, 1e-6, 0.02, "kd", {}),
]


def conv_student() -> nn.Module:
    """ConvNet2d (BatchNorm after every conv) on the digits as 1×8×8 images."""
    return nn.Sequential(nn.Unflatten(1, (1, 8, 8)), ConvNet2d(1, 10, width=8, depth=2))


def dropout_student() -> nn.Module:
    return MLP(64, [32, 32], 10, dropout=0.3)


def both_student() -> nn.Module:
    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Dropout(0.2),
        nn.Flatten(),
        nn.Linear(8 * 8 * 8, 10),
    )


# A conv bias before BatchNorm has a gradient of 0 up to rounding, which AdamW divides by its own
# root: there the rounding of a batched product moves a weight by lr/10, so BatchNorm is pinned
# with SGD, whose steps keep rounding at rounding; Dropout with AdamW.
CASES = {"batchnorm": (conv_student, "sgd", 5.0), "dropout": (dropout_student, "adamw", 1.0)}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def _task(student, cache):
    task = load_task("digits", {"labelled": 200})
    task.student = student
    return task, prepare_teacher(task, cache, device="cpu")


def _base(optimizer: str, epochs: int = 5) -> JobConfig:
    return JobConfig(
        temperature=1.0,
        kd_weight=0.0,
        lr=0.01,
        epochs=epochs,
        batch_size=32,
        seed=3,
        device="cpu",
        weight_decay=0.01,
        optimizer=optimizer,
    )


def _members(scale: float) -> list[Member]:
    return [Member(t, lam, lr * scale, loss, args) for t, lam, lr, loss, args in VARIED]


def _alone(task, teacher, base, member):
    return run_job(task, member_config(base, member), teacher if member.kd_weight > 0 else None)


def _assert_same_student(a: nn.Module, b: nn.Module, atol: float = 1e-4) -> None:
    """The same weights and running statistics, up to the rounding of batched products."""
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.allclose(x.float(), y.float(), atol=atol), name


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_of_8_members_trains_as_it_does_alone_at_every_epoch(case, cache):
    student, optimizer, scale = CASES[case]
    task, teacher = _task(student, cache)
    base, members = _base(optimizer), _members(scale)
    together = fit_members(task, base, members, teacher)
    one_example = 1 / len(task.val)
    for member, result in zip(members, together, strict=True):
        alone = _alone(task, teacher, base, member)
        assert result.error is None and len(result.history) == len(alone.history) == 5
        assert max(abs(a - b) for a, b in zip(result.history, alone.history, strict=True)) <= one_example
        _assert_same_student(result.model, alone.model)
    assert max(r.final_accuracy for r in together) > 0.5  # they learn: the comparison is not of noise
    states = [r.model.state_dict() for r in together]
    name = next(k for k in states[0] if k.endswith("running_mean") or k.endswith("weight"))
    assert not torch.equal(states[1][name], states[3][name])  # each member has its own


def test_a_member_stopped_or_failed_midway_leaves_the_others_unchanged(cache):
    task, teacher = _task(both_student, cache)
    base = _base("sgd", epochs=4)
    members = _members(5.0)[:5]
    members[2] = Member(1e-40, 0.5, 0.05)  # logits / T overflow: NaN in epoch 1

    def stop_member_1(epoch, running, accuracies):
        return {1} if epoch == 2 else set()

    together = fit_members(task, base, members, teacher, stop_member_1)
    assert together[1].stopped_early and together[1].epochs_run == 2
    assert together[2].error is not None and "T=1e-40" in together[2].error and together[2].epochs_run == 1
    others = [0, 3, 4]
    without = fit_members(task, base, [members[i] for i in others], teacher)
    for i, result in zip(others, without, strict=True):
        assert together[i].history == result.history
        _assert_same_student(together[i].model, result.model)
        assert result.history == _alone(task, teacher, base, members[i]).history


def test_dropout_masks_come_from_the_job_seed_not_the_global_random_state(cache):
    task, teacher = _task(both_student, cache)
    config = member_config(_base("adamw", epochs=2), Member(4.0, 0.5, 0.01))
    torch.manual_seed(1)
    a = run_job(task, config, teacher)
    torch.manual_seed(2)
    b = run_job(task, config, teacher)
    for x, y in zip(a.model.state_dict().values(), b.model.state_dict().values(), strict=True):
        assert torch.equal(x, y)
    assert isinstance(a.model[4], nn.Dropout)  # the student is handed back as it was built


def test_a_stack_draws_a_members_masks_whatever_the_other_members():
    torch.manual_seed(0)
    students = [both_student() for _ in range(3)]
    x = torch.randn(16, 64)

    def first_forward(stack: StudentStack) -> torch.Tensor:
        logits = stack.forward(x)  # (K, 16, 10)
        stack.close()  # the first student is the template: its nn.Dropout back
        return logits

    alone = first_forward(StudentStack([students[0]], seed=7))
    batched = first_forward(StudentStack(students, seed=7))
    assert torch.allclose(alone[0], batched[0], atol=1e-6)
    other_seed = first_forward(StudentStack([students[0]], seed=8))  # other masks
    assert not torch.allclose(alone[0], other_seed[0], atol=1e-3)


def test_a_transfer_batch_leaves_the_statistics_of_members_without_distillation():
    torch.manual_seed(0)
    stack = StudentStack([conv_student() for _ in range(2)], seed=0)
    before = {k: v.clone() for k, v in stack.buffers.items()}
    stack.forward(torch.randn(16, 64), transfer=True, update=torch.tensor([False, True]))
    for name, value in stack.buffers.items():
        assert torch.equal(value[0], before[name][0])
        assert not torch.equal(value[1], before[name][1])


@pytest.mark.parametrize("views", [5, 0], ids=["view bank", "live teacher"])
def test_an_augmenting_task_batched_trains_each_member_as_alone_on_the_same_views(views, cache):
    """K = 8 members share the job seed's augmented views: read from the bank, or with the
    teacher run once per batch for all of them on fresh parameters from the job's seed."""
    task = load_task("digits", {"labelled": 200})
    task.student = conv_student
    task.augment = Shift(1)
    teacher = prepare_teacher(task, cache, device="cpu", views=views)
    assert (teacher.bank is not None) == (views > 0)
    base = replace(_base("sgd"), views=views)
    members = _members(0.5)  # half the lrs of the table: at 5x, rounding grows chaotically at the largest
    assert can_batch(task) is None
    together = fit_members(task, base, members, teacher)
    one_example = 1 / len(task.val)
    for member, result in zip(members, together, strict=True):
        alone = _alone(task, teacher, base, member)
        assert result.error is None
        assert max(abs(a - b) for a, b in zip(result.history, alone.history, strict=True)) <= one_example
        _assert_same_student(result.model, alone.model, atol=1e-3)  # 25 SGD steps of rounding, grown
    assert max(r.final_accuracy for r in together) > 0.2  # above chance (0.1): they learn


def test_a_plain_augmentation_function_still_trains_one_trial_at_a_time(cache):
    task = load_task("digits", {"labelled": 200})
    task.augment = lambda x: x + 0.01 * torch.randn_like(x)
    assert "plain function" in can_batch(task) and "tempopt.Augmentation" in can_batch(task)
