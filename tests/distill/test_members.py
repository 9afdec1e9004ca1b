"""K students trained together: each member trains exactly as it would alone; stopped members leave."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tempopt.distill import JobConfig, prepare_teacher, run_job
from tempopt.distill.losses import kd_loss
from tempopt.distill.members import Member, can_batch, fit_members, member_config
from tempopt.distill.stack import MemberLoss
from tempopt.errors import SpecError
from tempopt.tasks import load_task

MEMBERS = [
    Member(T, lam, lr)
    for T, lam, lr in [
        (1.0, 0.0, 0.01),
        (4.0, 0.5, 0.02),
        (2.0, 0.9, 0.005),
        (8.0, 1.0, 0.03),
        (3.0, 0.3, 0.05),
        (1.5, 0.7, 0.001),
        (10.0, 0.2, 0.09),
        (5.0, 1e-6, 0.02),
    ]
]


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    task = load_task("digits", {"labelled": 200})
    return task, prepare_teacher(task, tmp_path_factory.mktemp("cache"), device="cpu")


def _lone(task, teacher, base, member):
    return run_job(task, member_config(base, member), teacher if member.kd_weight > 0 else None)


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_each_of_8_members_reaches_the_accuracies_it_reaches_alone(digits, optimizer):
    task, teacher = digits
    base = JobConfig(
        temperature=1.0,
        kd_weight=0.0,
        lr=0.01,
        epochs=8,
        batch_size=32,
        seed=3,
        optimizer=optimizer,
        weight_decay=0.01,
        device="cpu",
    )
    together = fit_members(task, base, MEMBERS, teacher)
    one_example = 1 / len(task.val)
    for member, result in zip(MEMBERS, together, strict=True):
        alone = _lone(task, teacher, base, member)
        assert len(result.history) == len(alone.history) == 8
        assert max(abs(a - b) for a, b in zip(result.history, alone.history, strict=True)) <= one_example


def test_a_stopped_member_leaves_the_stack_and_the_others_are_unaffected(digits):
    task, teacher = digits
    base = JobConfig(temperature=1.0, kd_weight=0.0, lr=0.01, epochs=6, batch_size=32, seed=1, device="cpu")
    running: list[list[int]] = []

    def on_epoch(epoch, members, accuracies):
        running.append(list(members))
        return {1, 4} if epoch == 2 else set()

    results = fit_members(task, base, MEMBERS[:5], teacher, on_epoch)
    assert running[:3] == [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4], [0, 2, 3]]  # compacted after epoch 2
    for i in (1, 4):
        assert results[i].stopped_early and results[i].epochs_run == 2
    for i in (0, 2, 3):
        assert not results[i].stopped_early
        assert results[i].history == _lone(task, teacher, base, MEMBERS[i]).history


def test_a_member_whose_loss_explodes_fails_alone(digits):
    task, teacher = digits
    base = JobConfig(temperature=1.0, kd_weight=0.0, lr=0.01, epochs=3, batch_size=32, seed=1, device="cpu")
    members = [MEMBERS[1], Member(1e-40, 0.5, 0.01), MEMBERS[2]]  # logits / T overflow: NaN
    results = fit_members(task, base, members, teacher)
    assert results[1].error is not None and "T=1e-40" in results[1].error and results[1].epochs_run == 1
    assert results[0].error is None and results[0].history == _lone(task, teacher, base, members[0]).history


def test_member_losses_are_the_kd_loss_per_member():
    torch.manual_seed(0)
    logits, teacher = torch.randn(3, 10, 4), torch.randn(10, 4)
    targets = torch.randint(0, 4, (6,))  # 6 labelled rows, 4 transfer rows
    temps, weights = torch.tensor([1.0, 4.0, 2.5]), torch.tensor([0.0, 0.7, 1.0])
    got = MemberLoss(["kd"] * 3, [{}] * 3, temps, weights)(logits, teacher, targets, 0.0)
    for k in range(3):
        want = kd_loss(logits[k], teacher, targets, float(temps[k]), float(weights[k]))
        assert got[k].item() == pytest.approx(want.item(), rel=1e-6)


def test_students_that_cannot_share_a_pass_are_refused_with_the_reason(digits):
    """BatchNorm and nn.Dropout share a pass; other dropouts and augmentation do not (yet)."""
    task, teacher = digits
    base = JobConfig(temperature=1.0, kd_weight=0.0, lr=0.01, epochs=1, device="cpu")
    for layer in (nn.BatchNorm1d(10), nn.Dropout(0.1)):
        plain = load_task("digits", {"labelled": 200})
        plain.student = lambda layer=layer: nn.Sequential(nn.Linear(64, 10), layer)
        assert can_batch(plain) is None
    odd = load_task("digits", {"labelled": 200})
    odd.student = lambda: nn.Sequential(nn.Linear(64, 10), nn.AlphaDropout(0.1))
    assert "AlphaDropout" in can_batch(odd)
    with pytest.raises(SpecError, match="AlphaDropout"):
        fit_members(odd, base, MEMBERS[:2], teacher)
    assert fit_members(odd, base, MEMBERS[:1], teacher)[0].epochs_run == 1  # a batch of one is never refused
    augmenting = load_task("digits", {"labelled": 200})
    augmenting.augment = lambda x: x + 0.01 * torch.randn_like(x)
    assert "augments" in can_batch(augmenting)
    assert can_batch(task) is None
