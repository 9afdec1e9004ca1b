"""The verdict: paired bootstrap over seeds and examples, on synthetic studies with a known truth."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from tempopt.analysis import HELPED, HURT, NO_EVIDENCE, compute_verdict, paired_interval
from tests.analysis.studies import add, add_verification, make_study, temperature_times_kd


def _correct(acc: float, seeds: int, n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.random((seeds, n)) < acc


@pytest.mark.parametrize(("d", "b", "sign"), [(0.95, 0.90, 1), (0.85, 0.92, -1)])
def test_a_clear_difference_has_an_interval_on_its_side_of_zero(d, b, sign):
    rng = np.random.default_rng(1)
    mean, low, high = paired_interval(_correct(d, 3, 800, rng), _correct(b, 3, 800, rng), n_bootstrap=2000)
    assert mean == pytest.approx(d - b, abs=0.02)
    assert low < mean < high
    assert (low > 0) if sign > 0 else (high < 0)


def test_pure_noise_is_no_evidence_nearly_always():
    """Both sides the same accuracy: the 95 % interval holds 0 in about 95 % of studies."""
    rng = np.random.default_rng(2)
    holds = 0
    for _ in range(200):
        _, low, high = paired_interval(
            _correct(0.9, 3, 300, rng), _correct(0.9, 3, 300, rng), n_bootstrap=400, seed=int(rng.integers(1 << 30))
        )
        holds += low <= 0 <= high
    assert holds >= 180


def test_identical_sides_give_a_zero_width_interval_at_zero():
    rng = np.random.default_rng(3)
    same = _correct(0.9, 3, 200, rng)
    assert paired_interval(same, same, n_bootstrap=200) == (0.0, 0.0, 0.0)


def test_the_interval_widens_with_the_spread_between_seeds():
    """Seed-to-seed spread counts: one lucky seed makes the interval wider than consistent seeds."""
    rng = np.random.default_rng(4)
    base = _correct(0.90, 3, 1000, rng)
    steady = np.stack([rng.random(1000) < 0.93 for _ in range(3)])
    shaky = np.stack([rng.random(1000) < acc for acc in (0.87, 0.93, 0.99)])
    _, lo1, hi1 = paired_interval(steady, base, n_bootstrap=2000)
    _, lo2, hi2 = paired_interval(shaky, base, n_bootstrap=2000)
    assert hi2 - lo2 > 1.5 * (hi1 - lo1)


def _verified(distilled, baseline, **kw):
    study = make_study(temperature_times_kd, 30, baseline=0.80)
    add_verification(study, distilled, baseline, **kw)
    return compute_verdict(study, n_bootstrap=1000)


def test_a_verified_clear_gain_is_helped_with_every_field():
    v = _verified([0.95, 0.93, 0.94], 0.88)
    assert v.verdict == HELPED and v.split == "test" and v.seeds == [1, 2, 3]
    assert 0 < v.gain["low"] < v.gain["mean"] < v.gain["high"]
    assert len(v.distilled.val) == len(v.distilled.test) == 3 == len(v.baseline.test)
    assert v.distilled.params["kd_weight"] > 0 and set(v.distilled.params) == {"temperature", "kd_weight", "lr"}
    assert set(v.baseline.params) == {"lr"}  # the student alone: no temperature, no kd_weight
    assert v.baseline_search == {"trials": 5, "best_lr": pytest.approx(10**-2.5), "lr_at_edge": False}
    assert v.gain["mean"] == pytest.approx(np.mean(v.distilled.test) - np.mean(v.baseline.test))
    assert v.summary.startswith("Distillation helped: +0.0")
    data = v.to_json()
    assert {"split", "seeds", "verdict", "gain", "distilled", "baseline", "baseline_search"} <= set(data)
    assert set(data["gain"]) == {"mean", "low", "high"} and set(data["distilled"]) >= {"params", "val", "test"}


def test_the_exported_side_is_the_best_mean_val_not_the_best_search_trial():
    """Rank 2 verifies better than rank 1 (the winner's curse): the verdict takes rank 2."""
    study = make_study(temperature_times_kd, 30)
    verify = add_verification(study, [0.90, 0.96, 0.91], 0.89)
    v = compute_verdict(study, n_bootstrap=500)
    rank2 = next(t for t in verify.trials if t.user_attrs["replicate"] == "distilled-2-seed1")
    assert v.distilled.trial == rank2.user_attrs["source_trial"]


def test_a_verified_loss_is_hurt_and_a_tie_is_no_evidence():
    assert _verified(0.84, 0.92).verdict == HURT
    tie = _verified(0.90, 0.90, examples=300)
    assert tie.verdict == NO_EVIDENCE and tie.gain["low"] <= 0 <= tie.gain["high"]
    assert tie.summary.startswith("No evidence that distillation helped:")


def test_without_a_test_split_the_verdict_says_it_is_optimistic():
    v = _verified(0.95, 0.88, split="val")
    assert v.split == "val" and "optimistic" in v.summary


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (lambda s: None, "verification has not run yet"),
        (
            lambda s: s.set_user_attr("spec", {**s.user_attrs["spec"], "verify": {"top_k": 3, "seeds": 0}}),
            "verification is off (verify.seeds: 0)",
        ),
        (
            lambda s: s.set_user_attr("spec", {k: v for k, v in s.user_attrs["spec"].items() if k != "verify"}),
            "no verification (written by an older tempopt)",
        ),
    ],
)
def test_an_unverified_study_is_no_evidence_and_says_why(setup, reason):
    study = make_study(temperature_times_kd, 20)
    setup(study)
    v = compute_verdict(study)
    assert v.verdict == NO_EVIDENCE and v.gain is None and reason in v.summary
    assert v.distilled.val and not v.distilled.test  # the search's best value, not a test figure


def test_unfinished_verification_and_a_missing_baseline_say_what_is_missing():
    study = make_study(temperature_times_kd, 20)
    verify = add_verification(study, 0.95, 0.88)
    verify.set_user_attr("plan", verify.user_attrs["plan"] + ["distilled-1-seed9"])
    assert "verification is not finished (6 of 7 replicates)" in compute_verdict(study).summary
    alone = compute_verdict(make_study(temperature_times_kd, 10, baseline=None))
    assert alone.verdict == NO_EVIDENCE and "no baseline trial" in alone.summary and alone.baseline is None


def _study_with_baselines(values: list[float], lrs: list[float], legacy: bool = False):
    """A verified clear gain (0.95 vs 0.88 on test) whose baseline search had ``values`` at ``lrs``."""
    study = make_study(temperature_times_kd, 30, baseline=None, legacy=legacy)
    sibling = study if legacy else optuna.create_study(storage=study._storage, study_name="kd:baseline")
    if not legacy:
        study.set_user_attr("baseline_study", "kd:baseline")
    for number, (value, lr) in enumerate(zip(values, lrs, strict=True)):
        add(sibling, 100 + number, {"lr": lr}, TrialState.COMPLETE, value, {1: value}, baseline=True)
    add_verification(study, 0.95, 0.88)
    return compute_verdict(study, n_bootstrap=500)


@pytest.mark.parametrize("legacy", [False, True])
def test_one_baseline_trial_is_no_fair_rival_whatever_the_gain(legacy):
    v = _study_with_baselines([0.37], [1e-3], legacy)
    assert v.verdict == NO_EVIDENCE and v.gain["low"] > 0  # measured, and said, but not a verdict
    assert (
        "tuned over only 1 baseline trial, fewer than the 5" in v.summary and "raise trials to at least 10" in v.summary
    )
    assert v.summary.startswith("No evidence that distillation helped:") and "(measured: +0.0" in v.summary
    assert v.to_json()["baseline_search"] == {"trials": 1, "best_lr": 1e-3, "lr_at_edge": False}


@pytest.mark.parametrize(("lr", "edge"), [(1.5e-4, True), (0.055, True), (0.045, False), (2.1e-4, False)])
def test_a_best_baseline_lr_at_the_edge_of_the_range_is_no_fair_rival(lr, edge):
    """lr range [1e-4, 1e-1]: its outer 10 % on the log scale are below 2e-4 and above 0.05."""
    v = _study_with_baselines([0.80, 0.70, 0.71, 0.72, 0.73], [lr, 1e-3, 2e-3, 3e-3, 4e-3])
    assert v.baseline_search["best_lr"] == lr and v.baseline_search["lr_at_edge"] is edge
    assert (v.verdict == NO_EVIDENCE) is edge and (v.verdict == HELPED) is not edge
    if edge:
        assert "lies at the edge of the searched lr range [0.0001, 0.1]" in v.summary and "widen lr" in v.summary
