"""The KD loss against values worked out by hand, and the four bugs of the seed article's code."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from tempopt.distill.losses import KDLoss, kd_loss, loss_names, make_loss, soft_kd_term
from tempopt.errors import SpecError

STUDENT = [[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]]
TEACHER = [[2.0, 1.0, 0.0], [1.5, 0.5, 2.5]]
TARGETS = [1, 2]


def _softmax(row: list[float], t: float) -> list[float]:
    exps = [math.exp(v / t) for v in row]
    return [e / sum(exps) for e in exps]


def _by_hand(student, teacher, targets, t: float, lam: float) -> float:
    """``(1 - λ)·CE + λ·T²·KL(p_teacher ‖ p_student)``, per sample summed, batch averaged."""
    ce = kl = 0.0
    for s, te, y in zip(student, teacher, targets, strict=True):
        ce += -math.log(_softmax(s, 1.0)[y])
        p_s, p_t = _softmax(s, t), _softmax(te, t)
        kl += sum(pt * math.log(pt / ps) for pt, ps in zip(p_t, p_s, strict=True))
    n = len(student)
    return (1 - lam) * ce / n + lam * t * t * kl / n


def _tensors(requires_grad: bool = False):
    s = torch.tensor(STUDENT, dtype=torch.float64, requires_grad=requires_grad)
    t = torch.tensor(TEACHER, dtype=torch.float64, requires_grad=requires_grad)
    return s, t, torch.tensor(TARGETS)


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0, 4.0, 10.0])
@pytest.mark.parametrize("kd_weight", [0.0, 0.3, 0.5, 0.9, 1.0])
def test_kd_loss_matches_the_hand_computed_formula(temperature, kd_weight):
    s, t, y = _tensors()
    got = kd_loss(s, t, y, temperature, kd_weight).item()
    assert got == pytest.approx(_by_hand(STUDENT, TEACHER, TARGETS, temperature, kd_weight), rel=1e-5)


def test_one_row_worked_out_in_full():
    # T = 2, λ = 0.5, student (0, 0), teacher (2, 0), label 0:
    # p_s = (1/2, 1/2), p_t = softmax(1, 0) = (e/(e+1), 1/(e+1)), CE = log 2.
    p = math.e / (math.e + 1)
    kl = p * math.log(2 * p) + (1 - p) * math.log(2 * (1 - p))
    want = 0.5 * math.log(2) + 0.5 * 4 * kl
    got = kd_loss(torch.tensor([[0.0, 0.0]]), torch.tensor([[2.0, 0.0]]), torch.tensor([0]), 2.0, 0.5)
    assert got.item() == pytest.approx(want, rel=1e-6)


def test_kd_weight_zero_is_cross_entropy_and_needs_no_teacher():
    s, _, y = _tensors()
    assert torch.equal(kd_loss(s, None, y, 3.0, 0.0), F.cross_entropy(s.float(), y))


def test_kd_weight_one_needs_no_targets():
    s, t, _ = _tensors()
    got = kd_loss(s, t, None, 3.0, 1.0)
    assert got.item() == pytest.approx(_by_hand(STUDENT, TEACHER, TARGETS, 3.0, 1.0), rel=1e-5)


def test_kl_is_averaged_over_the_batch_not_the_classes():
    """Seed bug 1: ``reduction='mean'`` divides by batch × classes."""
    s, t, _ = _tensors()
    got = soft_kd_term(s, t, 1.0).item()
    per_sample = _by_hand(STUDENT, TEACHER, TARGETS, 1.0, 1.0)  # T = 1: plain batch-mean KL
    assert got == pytest.approx(per_sample, rel=1e-6)
    assert got != pytest.approx(per_sample / 3, rel=1e-2)  # what 'mean' over 3 classes gives


def test_adding_classes_with_equal_logits_to_both_changes_nothing_per_sample():
    """With 'mean' reduction, padding the class axis would shrink the loss; batchmean does not."""
    s, t, _ = _tensors()
    pad = torch.full((2, 5), -1e4, dtype=torch.float64)
    wide = soft_kd_term(torch.cat([s, pad], 1), torch.cat([t, pad], 1), 2.0)
    assert wide.item() == pytest.approx(soft_kd_term(s, t, 2.0).item(), rel=1e-6)


def test_both_logits_are_divided_by_temperature():
    """Seed bug 2: only the teacher side was softened; equal logits must give zero KL at every T."""
    same = torch.tensor([[3.0, -1.0, 0.5]])
    for temperature in (0.5, 2.0, 8.0):
        assert soft_kd_term(same, same.clone(), temperature).item() == pytest.approx(0.0, abs=1e-7)
    # and the value is that of softmax(s/T) vs softmax(t/T), not softmax(s) vs softmax(t/T)
    s, t, _ = _tensors()
    wrong = F.kl_div(F.log_softmax(s, -1), F.softmax(t / 4.0, -1), reduction="batchmean") * 16
    assert soft_kd_term(s, t, 4.0).item() != pytest.approx(wrong.item(), rel=1e-2)


def _soft_grad_norm(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> float:
    s = student.clone().requires_grad_(True)
    kd_loss(s, teacher, None, temperature, 1.0).backward()
    return s.grad.norm().item()


def test_soft_term_is_scaled_by_t_squared_so_its_gradient_does_not_vanish():
    """Seed bug 3: without T² the soft gradient shrinks as 1/T², entangling T and λ."""
    g = torch.Generator().manual_seed(0)
    student = torch.randn(64, 10, generator=g, dtype=torch.float64)
    teacher = torch.randn(64, 10, generator=g, dtype=torch.float64)
    student -= student.mean(1, keepdim=True)  # zero-mean logits: the high-T limit of Hinton §2.1
    teacher -= teacher.mean(1, keepdim=True)
    ratio = _soft_grad_norm(student, teacher, 4.0) / _soft_grad_norm(student, teacher, 16.0)
    assert ratio == pytest.approx(1.0, abs=0.1)  # without T² it would be about 16
    # In the limit the gradient is (s - t) / (C·B): the T² factor makes it T-free.
    s = student.clone().requires_grad_(True)
    kd_loss(s, teacher, None, 100.0, 1.0).backward()
    torch.testing.assert_close(s.grad, (student - teacher) / (10 * 64), rtol=0.05, atol=1e-5)


def test_gradient_reaches_the_student_and_never_the_teacher():
    """Seed bug 4: the teacher's logits are detached."""
    s, t, y = _tensors(requires_grad=True)
    kd_loss(s, t, y, 4.0, 0.7).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert t.grad is None


def test_gradient_matches_the_analytic_soft_gradient():
    s, t, _ = _tensors(requires_grad=True)
    kd_loss(s, t, None, 2.0, 1.0).backward()
    p_s = torch.softmax(s.detach() / 2.0, -1)
    p_t = torch.softmax(t.detach() / 2.0, -1)
    torch.testing.assert_close(s.grad, 2.0 * (p_s - p_t) / 2)  # T·(p_s − p_t)/B


@pytest.mark.parametrize(
    "temperature, kd_weight",
    [(0.0, 0.5), (-1.0, 0.5), (math.nan, 0.5), (math.inf, 0.5), (2.0, -0.1), (2.0, 1.5), (2.0, math.nan)],
)
def test_bad_temperature_or_weight_raise(temperature, kd_weight):
    s, t, y = _tensors()
    with pytest.raises(ValueError, match="temperature|kd_weight"):
        kd_loss(s, t, y, temperature, kd_weight)


def test_a_term_with_weight_needs_its_input():
    s, t, y = _tensors()
    with pytest.raises(ValueError, match="teacher_logits"):
        kd_loss(s, None, y, 2.0, 0.5)
    with pytest.raises(ValueError, match="targets"):
        kd_loss(s, t, None, 2.0, 0.5)


def test_loss_registry():
    assert "kd" in loss_names()
    assert isinstance(make_loss("kd"), KDLoss)
    assert make_loss("kd") is not make_loss("kd")  # fresh state per job
    with pytest.raises(SpecError, match="'nope'.*kd"):
        make_loss("nope")
