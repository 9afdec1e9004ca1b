"""The KD variants against values worked out by hand and their limiting cases, then the contract
every registered variant keeps (iterating the registry)."""

from __future__ import annotations

import inspect
import math
import sys

import pytest
import torch
import torch.nn.functional as F

from tempopt.distill import losses
from tempopt.distill.losses import DistillLoss, all_targets, kd_soft, loss_class, loss_names, make_loss
from tempopt.distill.losses._base import kl_rows, log_softmax, mix
from tempopt.distill.losses.dkd import DecoupledKD, tckd_nckd
from tempopt.distill.losses.learned import LearnedTemperatureKD
from tempopt.distill.losses.schedule import ScheduledKD
from tempopt.distill.losses.standardized import StandardizedKD, standardize
from tempopt.distill.losses.ttm import TransformedTeacherKD
from tempopt.errors import SpecError
from tests.distill.variant_members import declared_members, members

STUDENT = [[1.0, 2.0, 0.5, -1.0], [0.0, -1.0, 3.0, 1.0], [2.5, 0.5, -0.5, 0.0]]
TEACHER = [[2.0, 1.0, 0.0, -2.0], [1.5, 0.5, 2.5, 0.0], [4.0, -1.0, 1.0, 0.5]]
TARGETS = [1, 2, 0]


def _softmax(row: list[float], t: float = 1.0) -> list[float]:
    exps = [math.exp(v / t) for v in row]
    return [e / sum(exps) for e in exps]


def _kl(p: list[float], q: list[float]) -> float:
    return sum(a * math.log(a / b) for a, b in zip(p, q, strict=True) if a > 0)


def _kd_by_hand(student, teacher, t: float) -> float:
    """``T²·KL(softmax(t/T) ‖ softmax(s/T))`` averaged over the rows."""
    return (
        t * t * sum(_kl(_softmax(te, t), _softmax(s, t)) for s, te in zip(student, teacher, strict=True)) / len(student)
    )


def _logits(requires_grad: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(1, N, C)`` student, ``(N, C)`` teacher and ``(N,)`` targets of the hand-worked rows."""
    s = torch.tensor([STUDENT], requires_grad=requires_grad)
    t = torch.tensor(TEACHER, requires_grad=requires_grad)
    return s, t, torch.tensor(TARGETS)


def _soft(loss: DistillLoss, temperature: float = 1.0, progress: float = 0.0, student=None, teacher=None) -> float:
    s, t, y = _logits()
    s = s if student is None else torch.tensor([student])
    t = t if teacher is None else torch.tensor(teacher)
    return loss.soft(s, t, y, torch.tensor([temperature]), progress).item()


# ---------------------------------------------------------------------------------------------- schedule


@pytest.mark.parametrize("progress", [0.0, 0.25, 0.6, 1.0])
@pytest.mark.parametrize("shape", ["linear", "cosine"])
def test_schedule_is_kd_at_the_annealed_temperature(shape, progress):
    t_start, t_end = 8.0, 2.0
    if shape == "linear":
        t = t_start + (t_end - t_start) * progress
    else:
        t = t_end + (t_start - t_end) * (1 + math.cos(math.pi * progress)) / 2
    loss = ScheduledKD({"t_start": t_start, "t_end": t_end, "shape": shape})
    assert loss.temperature_at(progress).item() == pytest.approx(t, rel=1e-6)
    assert _soft(loss, temperature=99.0, progress=progress) == pytest.approx(_kd_by_hand(STUDENT, TEACHER, t), rel=1e-5)


def test_schedule_starts_and_ends_at_its_ends_and_the_cosine_is_flat_there():
    loss = ScheduledKD([{"shape": "linear"}, {"shape": "cosine"}])
    assert loss.temperature_at(0.0).tolist() == [8.0, 8.0]
    assert loss.temperature_at(1.0).tolist() == [2.0, 2.0]
    linear, cosine = loss.temperature_at(0.05).tolist()
    assert 8.0 - cosine < (8.0 - linear) / 5  # a cosine barely moves at first


def test_schedule_with_equal_ends_is_kd():
    s, t, y = _logits()
    loss = ScheduledKD({"t_start": 3.0, "t_end": 3.0, "shape": "cosine"})
    for progress in (0.0, 0.4, 1.0):
        got = loss.soft(s, t, y, torch.tensor([1.0]), progress)
        torch.testing.assert_close(got, kd_soft(s, t, torch.tensor([3.0])))


# ---------------------------------------------------------------------------------------------- learned


def test_learned_starts_at_t_init_and_reports_it():
    loss = LearnedTemperatureKD([{"t_init": 4.0}, {"t_min": 0.5, "t_max": 3.0, "t_init": 1.0}])
    torch.testing.assert_close(loss.temperature(), torch.tensor([4.0, 1.0]))
    assert [m["learned_temperature"] for m in loss.learned()] == pytest.approx([4.0, 1.0], rel=1e-6)
    assert loss.state()["theta"].shape == (2,) and loss.state()["theta"].requires_grad
    assert _soft(LearnedTemperatureKD({"t_init": 4.0}), 99.0) == pytest.approx(
        _kd_by_hand(STUDENT, TEACHER, 4.0), rel=1e-5
    )


def test_learned_temperature_follows_theta_and_stays_inside_its_range():
    loss = LearnedTemperatureKD({"t_min": 1.0, "t_max": 20.0, "t_init": 4.0})
    with torch.no_grad():
        loss.state()["theta"].fill_(0.0)
    assert loss.learned() == [{"learned_temperature": pytest.approx(10.5)}]  # 1 + 19 · sigmoid(0)
    with torch.no_grad():
        loss.state()["theta"].fill_(-50.0)
    assert 1.0 <= loss.temperature().item() < 1.001


def _theta_grad(loss: LearnedTemperatureKD, progress: float) -> torch.Tensor:
    s, t, y = _logits()
    loss.soft(s, t, y, torch.tensor([1.0]), progress).sum().backward()
    return loss.state()["theta"].grad


def _plain_theta_grad(t_min: float, t_max: float, theta: torch.Tensor) -> torch.Tensor:
    """``d(soft)/dθ`` without the reversal."""
    s, t, _ = _logits()
    theta = theta.detach().clone().requires_grad_(True)
    kd_soft(s, t, t_min + (t_max - t_min) * torch.sigmoid(theta)).sum().backward()
    return theta.grad


def test_learned_reverses_the_temperature_gradient_after_the_ramp():
    loss = LearnedTemperatureKD({"grl_max": 1.0, "ramp": 0.5})
    plain = _plain_theta_grad(1.0, 20.0, loss.state()["theta"])
    assert plain.abs().item() > 1e-4
    torch.testing.assert_close(_theta_grad(loss, progress=1.0), -plain)


def test_learned_strength_follows_the_cosine_curriculum():
    loss = LearnedTemperatureKD([{"grl_max": 2.0, "ramp": 0.5}, {"grl_max": 1.0, "ramp": 1.0}])
    assert loss.strength(0.0).tolist() == [0.0, 0.0]
    torch.testing.assert_close(loss.strength(0.25), torch.tensor([1.0, (1 - math.cos(math.pi / 4)) / 2]))
    torch.testing.assert_close(loss.strength(0.75), torch.tensor([2.0, (1 - math.cos(3 * math.pi / 4)) / 2]))
    assert loss.strength(1.0).tolist() == [2.0, 1.0]
    single = LearnedTemperatureKD({"grl_max": 3.0, "ramp": 0.5})
    plain = _plain_theta_grad(1.0, 20.0, single.state()["theta"])
    torch.testing.assert_close(_theta_grad(single, progress=0.25), -1.5 * plain)  # half the strength


def test_learned_theta_gets_no_gradient_at_the_start_but_the_student_does():
    loss = LearnedTemperatureKD()
    s, t, y = _logits(requires_grad=True)
    loss.soft(s, t, y, torch.tensor([1.0]), 0.0).sum().backward()
    assert loss.state()["theta"].grad.item() == 0.0
    assert s.grad.abs().sum() > 0 and t.grad is None


def test_learned_descent_makes_the_kd_term_harder():
    """Adversarial: a gradient-descent step on the loss moves T where the soft term grows."""
    loss = LearnedTemperatureKD({"t_init": 4.0})
    before = _soft(loss, progress=1.0)
    grad = _theta_grad(loss, progress=1.0)
    with torch.no_grad():
        loss.state()["theta"].sub_(0.5 * grad)
    assert _soft(loss, progress=1.0) > before
    assert loss.learned()[0]["learned_temperature"] != pytest.approx(4.0)


def test_learned_keep_compacts_the_temperatures():
    loss = LearnedTemperatureKD([{"t_init": 2.0}, {"t_init": 3.0}, {"t_init": 5.0}])
    loss.keep(torch.tensor([0, 2]))
    torch.testing.assert_close(loss.temperature(), torch.tensor([2.0, 5.0]))
    assert loss.state()["theta"].requires_grad and loss.state()["theta"].is_leaf


@pytest.mark.parametrize("args", [{"t_init": 1.0}, {"t_init": 25.0}, {"t_min": 5.0, "t_max": 3.0}])
def test_learned_needs_t_init_strictly_inside_its_range(args):
    with pytest.raises(SpecError, match="t_init=.*t_min < t_init < t_max"):
        LearnedTemperatureKD([{}, args])


# ---------------------------------------------------------------------------------------------- standardized


def _zscore(row: list[float], ddof: int = 0) -> list[float]:
    """The row z-scored with the population std (ddof 0) or the sample one (ddof 1)."""
    mean = sum(row) / len(row)
    std = math.sqrt(sum((v - mean) ** 2 for v in row) / (len(row) - ddof))
    return [(v - mean) / (std + 1e-7) for v in row]


@pytest.mark.parametrize("temperature", [1.0, 2.0, 5.0])
def test_standardized_is_kd_on_z_scored_logits(temperature):
    want = _kd_by_hand([_zscore(r) for r in STUDENT], [_zscore(r) for r in TEACHER], temperature)
    assert _soft(StandardizedKD(), temperature) == pytest.approx(want, rel=1e-5)
    s, t, y = _logits()
    same = kd_soft(standardize(s), standardize(t), torch.tensor([temperature]))
    torch.testing.assert_close(StandardizedKD().soft(s, t, y, torch.tensor([temperature]), 0.0), same)


@pytest.mark.parametrize("temperature", [1.0, 2.0, 5.0])
def test_standardized_with_the_sample_std_is_the_authors_logit_std(temperature):
    want = _kd_by_hand([_zscore(r, 1) for r in STUDENT], [_zscore(r, 1) for r in TEACHER], temperature)
    assert _soft(StandardizedKD({"std": "sample"}), temperature) == pytest.approx(want, rel=1e-5)
    assert _soft(StandardizedKD({"std": "population"}), temperature) == pytest.approx(
        _soft(StandardizedKD(), temperature), rel=1e-7
    )  # the default, as before


def test_the_sample_std_is_the_population_one_at_a_higher_temperature():
    """Its z-scores are smaller by sqrt(C / (C - 1)): the population variant's at T·sqrt(C / (C - 1)),
    still scaled by the base T²; at 3 classes T is 22 % higher, at 4 (these rows) 15 %."""
    three = [r[:3] for r in STUDENT], [r[:3] for r in TEACHER]
    for student, teacher in (three, (STUDENT, TEACHER)):
        c = len(student[0])
        factor = math.sqrt(c / (c - 1))
        population = _soft(StandardizedKD(), 2.0 * factor, student=student, teacher=teacher)
        sample = _soft(StandardizedKD({"std": "sample"}), 2.0, student=student, teacher=teacher)
        assert sample == pytest.approx(population / factor**2, rel=1e-5)
    assert math.sqrt(3 / 2) == pytest.approx(1.22, abs=0.005)


def test_standardized_members_keep_their_own_std_in_one_batch():
    s, t, y = _logits()
    together = StandardizedKD([{"std": "sample"}, {}]).soft(s.expand(2, -1, -1), t, y, torch.tensor([2.0, 2.0]), 0.0)
    assert together.tolist() == pytest.approx(
        [_soft(StandardizedKD({"std": "sample"}), 2.0), _soft(StandardizedKD(), 2.0)]
    )
    assert together[0] < together[1]  # flatter z-scores: a softer target, a smaller KL here


def test_standardized_refuses_an_unknown_std():
    with pytest.raises(SpecError, match="std='unbiased' is not one of population, sample"):
        StandardizedKD({"std": "unbiased"})


def test_standardized_ignores_each_row_s_shift_and_positive_scale():
    shift = torch.tensor([[3.0], [-7.0], [0.5]])
    scale = torch.tensor([[0.2], [4.0], [1.5]])
    s, t, y = _logits()
    loss, temp = StandardizedKD(), torch.tensor([2.0])
    base = loss.soft(s, t, y, temp, 0.0)
    torch.testing.assert_close(loss.soft(s * scale + shift, t, y, temp, 0.0), base, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(loss.soft(s, t * scale.flip(0) - shift, y, temp, 0.0), base, rtol=1e-5, atol=1e-6)
    assert kd_soft(s * scale + shift, t, temp).item() != pytest.approx(kd_soft(s, t, temp).item(), rel=1e-2)


def test_standardized_gradient_is_finite_for_a_constant_row():
    s = torch.zeros(1, 3, 4, requires_grad=True)  # a zero-initialised head
    _, t, y = _logits()
    got = StandardizedKD().soft(s, t, y, torch.tensor([2.0]), 0.0)
    got.sum().backward()
    assert torch.isfinite(got).all() and torch.isfinite(s.grad).all()


# ---------------------------------------------------------------------------------------------- dkd


def _dkd_rows_by_hand(student, teacher, targets, t: float) -> list[tuple[float, float]]:
    """Every row's (TCKD, NCKD), from softmaxes in float64."""
    rows = []
    for s, te, y in zip(student, teacher, targets, strict=True):
        p_s, p_t = _softmax(s, t), _softmax(te, t)
        rest_p_s, rest_p_t = (sum(p for j, p in enumerate(ps) if j != y) for ps in (p_s, p_t))  # not 1 - p_y
        tckd = _kl([p_t[y], rest_p_t], [p_s[y], rest_p_s])
        rest_s = [v for j, v in enumerate(s) if j != y]
        rest_t = [v for j, v in enumerate(te) if j != y]
        rows.append((tckd, _kl(_softmax(rest_t, t), _softmax(rest_s, t))))
    return rows


@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_dkd_matches_the_hand_computed_terms(temperature):
    rows = _dkd_rows_by_hand(STUDENT, TEACHER, TARGETS, temperature)
    s, t, y = _logits()
    tckd, nckd = tckd_nckd(s, t, y, torch.tensor([temperature]))
    torch.testing.assert_close(tckd[0], torch.tensor([r[0] for r in rows]))
    torch.testing.assert_close(nckd[0], torch.tensor([r[1] for r in rows]))
    loss = DecoupledKD({"alpha": 0.5, "beta": 3.0, "warmup": 0.2})
    want = temperature**2 * sum(0.5 * a + 3.0 * b for a, b in rows) / 3
    assert _soft(loss, temperature, progress=0.5) == pytest.approx(want, rel=1e-5)
    assert _soft(loss, temperature, progress=0.05) == pytest.approx(want / 4, rel=1e-5)  # warm = 0.05 / 0.2


@pytest.mark.parametrize("temperature", [1.0, 2.0, 6.0])
def test_kd_is_tckd_plus_the_teacher_s_non_target_mass_times_nckd(temperature):
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(2, 6, 5, generator=g) * 3, torch.randn(6, 5, generator=g) * 3
    y = torch.randint(0, 5, (6,), generator=g)
    temp = torch.tensor([temperature, temperature / 2])
    tckd, nckd = tckd_nckd(s, t, y, temp)
    p_y = torch.softmax(t / temp.view(-1, 1, 1), -1)[:, torch.arange(6), y]  # (K, N)
    kl = kl_rows(log_softmax(t / temp.view(-1, 1, 1)), log_softmax(s / temp.view(-1, 1, 1)))  # (K, N)
    torch.testing.assert_close(tckd + (1 - p_y) * nckd, kl)
    torch.testing.assert_close((tckd + (1 - p_y) * nckd).mean(-1) * temp**2, kd_soft(s, t, temp))


def test_dkd_stays_finite_and_exact_for_confident_logits():
    student = [[5.0, 0.0, 1.0], [-80.0, 90.0, 10.0]]
    teacher = [[30.0, 0.0, -5.0], [-200.0, 200.0, 5.0]]  # 1 - p_y is 1e-13 and 0 in float32
    s = torch.tensor([student], requires_grad=True)
    loss = DecoupledKD({"alpha": 1.0, "beta": 8.0, "warmup": 0.0})
    got = loss.soft(s, torch.tensor(teacher), torch.tensor([0, 1]), torch.tensor([1.0]), 0.0)
    got.sum().backward()
    assert torch.isfinite(s.grad).all()
    want = sum(a + 8.0 * b for a, b in _dkd_rows_by_hand(student, teacher, [0, 1], 1.0)) / 2
    assert got.item() == pytest.approx(want, rel=1e-4)


def test_dkd_fades_in_over_its_warmup():
    loss = DecoupledKD([{"warmup": 0.0}, {"warmup": 0.1}, {"warmup": 1.0}])
    assert loss.warm(0.0).tolist() == [1.0, 0.0, 0.0]
    torch.testing.assert_close(loss.warm(0.05), torch.tensor([1.0, 0.5, 0.05]))
    assert loss.warm(0.5).tolist() == [1.0, 1.0, 0.5]


def test_dkd_takes_the_teacher_s_top_class_for_rows_without_a_label():
    s, t, _ = _logits()
    loss = DecoupledKD({"warmup": 0.0})
    top = t.argmax(-1)
    want = loss.soft(s, t, torch.tensor([TARGETS[0], top[1], top[2]]), torch.tensor([3.0]), 1.0)[0]
    assert loss(s[0], t, torch.tensor([TARGETS[0]]), 3.0, 1.0).item() == pytest.approx(want.item(), rel=1e-6)
    assert loss.soft(s, t, None, torch.tensor([3.0]), 1.0).item() == pytest.approx(
        loss.soft(s, t, top, torch.tensor([3.0]), 1.0).item(), rel=1e-6
    )


# ---------------------------------------------------------------------------------------------- ttm


def _ttm_by_hand(student, teacher, gamma: float, weighted: bool) -> float:
    total = 0.0
    for s, te in zip(student, teacher, strict=True):
        powered = [p**gamma for p in _softmax(te)]
        u = sum(powered)
        kl = _kl([p / u for p in powered], _softmax(s))
        total += u * kl if weighted else kl
    return total / len(student)


@pytest.mark.parametrize("gamma", [0.25, 0.5, 1.0])
@pytest.mark.parametrize("weighted", ["no", "yes"])
def test_ttm_matches_the_hand_computed_power_transform(gamma, weighted):
    want = _ttm_by_hand(STUDENT, TEACHER, gamma, weighted == "yes")
    got = _soft(TransformedTeacherKD({"gamma": gamma, "weighted": weighted}), temperature=99.0)
    assert got == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize("temperature", [2.0, 4.0])
def test_ttm_at_gamma_one_over_t_tempers_only_the_teacher(temperature):
    want = sum(_kl(_softmax(te, temperature), _softmax(s)) for s, te in zip(STUDENT, TEACHER, strict=True)) / len(
        STUDENT
    )
    assert _soft(TransformedTeacherKD({"gamma": 1 / temperature})) == pytest.approx(want, rel=1e-5)


def test_ttm_at_gamma_one_is_kd_at_t_one():
    s, t, y = _logits()
    want = kd_soft(s, t, torch.tensor([1.0]))
    for weighted in ("no", "yes"):  # at γ = 1 the power sum is Σ p = 1
        got = TransformedTeacherKD({"gamma": 1.0, "weighted": weighted}).soft(s, t, y, torch.tensor([5.0]), 0.0)
        torch.testing.assert_close(got, want)


def test_wttm_weighs_a_flat_teacher_row_more_than_a_sharp_one():
    s = torch.tensor([[[0.3, -1.0, 2.0, 0.0]]]).expand(2, -1, -1)
    loss = TransformedTeacherKD([{"gamma": 0.5}, {"gamma": 0.5, "weighted": "yes"}])
    flat, sharp = torch.zeros(1, 4), torch.tensor([[30.0, 0.0, 0.0, 0.0]])
    for teacher, power_sum in ((flat, 2.0), (sharp, 1.0)):  # 4·(1/4)^½ = 2; a one-hot gives 1
        plain, weighted = loss.soft(s, teacher, None, torch.ones(2), 0.0)
        assert (weighted / plain).item() == pytest.approx(power_sum, rel=1e-4)


# ---------------------------------------------------------------------------------------------- every variant
# The contract every registered variant keeps, run over the registry: a variant registered in
# tempopt/distill/losses/ is tested here with no edit (its members made from its declared args).

VARIANTS = loss_names()

# Three members of some variants, picked by hand for their edge cases; `temperature` below differs too.
MEMBERS = {
    "schedule": [
        {"t_start": 8.0, "t_end": 2.0},
        {"t_start": 1.0, "t_end": 5.0, "shape": "cosine"},
        {"t_start": 3.0, "t_end": 3.0},
    ],
    "learned": [{}, {"t_min": 0.5, "t_max": 6.0, "t_init": 2.0, "grl_max": 3.0}, {"t_init": 10.0, "ramp": 1.0}],
    "standardized": [{}, {"std": "sample"}, {"std": "population"}],
    "dkd": [{}, {"alpha": 0.0, "beta": 2.0, "warmup": 0.0}, {"alpha": 3.0, "beta": 0.5, "warmup": 1.0}],
    "ttm": [{}, {"gamma": 0.2, "weighted": "yes"}, {"gamma": 1.0, "weighted": "yes"}],
}


def _members(name: str) -> list[dict]:
    return members(name, MEMBERS)


def test_the_registry_holds_the_variants_of_this_package():
    assert {"kd", "schedule", "learned", "standardized", "dkd", "ttm"} <= set(VARIANTS)
    assert set(MEMBERS) <= set(VARIANTS)  # no hand-picked members of a variant that is gone


@pytest.mark.parametrize("name", VARIANTS)
def test_a_variant_is_registered_under_its_name_in_a_small_module_of_its_own(name):
    cls = loss_class(name)
    assert issubclass(cls, DistillLoss) and cls.name == name
    assert cls.__module__ == f"tempopt.distill.losses.{name}"
    assert len(inspect.getsource(sys.modules[cls.__module__]).splitlines()) <= 150
    assert f"``{name}``" in losses.__doc__  # the package's docstring lists it
    assert make_loss(name) is not make_loss(name)  # fresh state per job


@pytest.mark.parametrize("name", VARIANTS)
def test_a_variant_s_defaults_are_valid_and_its_args_say_what_they_are(name):
    cls = loss_class(name)
    assert cls.check_args({}) == {arg: spec.default for arg, spec in cls.args.items()}
    for arg, spec in cls.args.items():
        assert spec.help, f"{name}.{arg} has no help"
        assert spec.check(name, arg, spec.default) == spec.default
    loss = make_loss(name, _members(name))
    assert loss.size == 3 and all(v.shape == (3,) for v in loss.values.values())
    assert 0 < cls.default_temperature < math.inf


def _batch(k: int = 3):
    g = torch.Generator().manual_seed(1)
    student = (torch.randn(k, 5, 4, generator=g) * 2).requires_grad_(True)  # (K, N, C)
    teacher = (torch.randn(5, 4, generator=g) * 2).requires_grad_(True)  # (N, C)
    return student, teacher, torch.randint(0, 4, (5,), generator=g), torch.tensor([1.5, 3.0, 5.0][:k])


@pytest.mark.parametrize("name", VARIANTS)
def test_at_kd_weight_zero_a_variant_is_cross_entropy_and_needs_no_teacher(name):
    student, teacher, targets, _ = _batch()
    for args in _members(name):
        loss = make_loss(name, args)
        want = F.cross_entropy(student[0], targets)
        torch.testing.assert_close(loss(student[0], None, targets, 2.0, 0.0, 0.5), want)
        torch.testing.assert_close(loss(student[0], teacher, targets, 2.0, 0.0, 0.5), want)


@pytest.mark.parametrize("name", VARIANTS)
def test_at_kd_weight_one_a_variant_is_its_soft_term_and_needs_no_labels(name):
    student, teacher, targets, _ = _batch()
    loss = make_loss(name, _members(name)[1])
    rows = all_targets(None, teacher) if loss.needs_targets else None
    want = loss.soft(student[:1], teacher, rows, torch.tensor([2.0]), 0.5)[0]
    got = loss(student[0], teacher, None, 2.0, 1.0, 0.5)
    assert torch.isfinite(got)
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("name", VARIANTS)
def test_gradient_is_finite_reaches_every_member_and_never_the_teacher(name):
    student, teacher, targets, temperature = _batch()
    loss = make_loss(name, _members(name))
    got = loss.soft(student, teacher, targets, temperature, 0.5)
    assert got.shape == (3,) and torch.isfinite(got).all() and (got > 0).all()
    got.sum().backward()
    assert torch.isfinite(student.grad).all() and (student.grad.abs().sum((1, 2)) > 0).all()
    assert teacher.grad is None
    for value in loss.state().values():
        assert value.grad is not None and torch.isfinite(value.grad).all()


@pytest.mark.parametrize("picked", [True, False], ids=["picked", "declared"])
@pytest.mark.parametrize("name", VARIANTS)
def test_three_members_compute_what_three_lone_members_compute(name, picked):
    """With the members picked by hand and with those made from the variant's declared args."""
    student, teacher, targets, temperature = _batch()
    args_of = _members(name) if picked else declared_members(loss_class(name))
    together = make_loss(name, args_of)
    got = together.soft(student, teacher, targets, temperature, 0.3)
    got.sum().backward()
    for k, args in enumerate(args_of):
        s = student.detach()[k : k + 1].clone().requires_grad_(True)
        alone = make_loss(name, args)
        want = alone.soft(s, teacher, targets, temperature[k : k + 1], 0.3)
        want.sum().backward()
        torch.testing.assert_close(got[k : k + 1], want)
        torch.testing.assert_close(student.grad[k : k + 1], s.grad)
        for key, value in together.state().items():
            torch.testing.assert_close(value.grad[k : k + 1], alone.state()[key].grad)


@pytest.mark.parametrize("name", VARIANTS)
def test_a_batch_with_each_member_s_t_and_lambda_is_three_separate_calls(name):
    """The full loss of a batched pass (labelled rows, then transfer rows) against a lone job's call."""
    student, teacher, targets, temperature = _batch()
    labels = targets[:3]  # rows 3 and 4 are transfer rows
    kd_weight = torch.tensor([0.3, 1.0, 0.7])
    together = make_loss(name, _members(name))
    rows = all_targets(labels, teacher.detach()) if together.needs_targets else None
    got = mix(student, teacher, labels, kd_weight, lambda t: together.soft(student, t, rows, temperature, 0.4))
    for k, args in enumerate(_members(name)):
        alone = make_loss(name, args)
        want = alone(student[k], teacher, labels, temperature[k].item(), kd_weight[k].item(), 0.4)
        torch.testing.assert_close(got[k], want)


@pytest.mark.parametrize("name", VARIANTS)
def test_the_temperature_matters_exactly_when_a_variant_says_it_uses_one(name):
    student, teacher, targets, _ = _batch()
    loss = make_loss(name, _members(name)[0])
    at = [loss.soft(student[:1], teacher, targets, torch.tensor([t]), 0.5).item() for t in (1.0, 4.0)]
    if loss.uses_temperature:
        assert at[0] != pytest.approx(at[1], rel=1e-3)
    else:
        assert at[0] == at[1]


@pytest.mark.parametrize("name", VARIANTS)
def test_keep_leaves_the_members_it_keeps_as_they_were(name):
    student, teacher, targets, temperature = _batch()
    loss = make_loss(name, _members(name))
    before = loss.soft(student, teacher, targets, temperature, 0.6).detach()
    loss.keep(torch.tensor([0, 2]))
    assert loss.size == 2 and len(loss.learned()) == 2
    kept = torch.tensor([0, 2])
    after = loss.soft(student.index_select(0, kept), teacher, targets, temperature.index_select(0, kept), 0.6)
    torch.testing.assert_close(after.detach(), before.index_select(0, kept))
    assert all(v.requires_grad and v.is_leaf and len(v) == 2 for v in loss.state().values())


@pytest.mark.parametrize("name", VARIANTS)
def test_what_a_variant_learned_is_one_mapping_of_finite_numbers_per_member(name):
    learned = make_loss(name, _members(name)).learned()
    assert len(learned) == 3 and len({tuple(sorted(m)) for m in learned}) == 1
    assert all(isinstance(v, float) and math.isfinite(v) for m in learned for v in m.values())


@pytest.mark.parametrize("name", VARIANTS)
def test_an_unknown_arg_names_itself_and_the_known_ones(name):
    with pytest.raises(SpecError, match=f"'{name}' has no arg 'tau'"):
        make_loss(name, [{}, {"tau": 1.0}])


def _out_of_range(cls: type[DistillLoss]) -> list[tuple[str, str, object]]:
    """``(variant, arg, value)`` for every value an arg refuses: past each finite end, NaN and a
    bool for a number; a string it does not list and a bool for a choice."""
    cases: list[tuple[str, str, object]] = []
    for arg, spec in cls.args.items():
        if spec.choices is not None:
            values: list[object] = ["no-such-choice", True]
        else:
            values = [math.nan, True]
            if math.isfinite(spec.low):
                values.append(spec.low if spec.low_open else spec.low - 1.0)
            if math.isfinite(spec.high):
                values.append(spec.high if spec.high_open else spec.high + 1.0)
        cases += [(cls.name, arg, v) for v in values]
    return cases


@pytest.mark.parametrize("name, arg, value", [c for n in VARIANTS for c in _out_of_range(loss_class(n))])
def test_a_value_out_of_range_names_its_arg(name, arg, value):
    with pytest.raises(SpecError, match=f"loss '{name}': {arg}"):
        make_loss(name, {arg: value})
