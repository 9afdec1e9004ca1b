"""The verdict: paired bootstrap over seeds and examples, on synthetic studies with a known truth."""

from __future__ import annotations

import numpy as np
import pytest

from tempopt.analysis import HELPED, HURT, NO_EVIDENCE, compute_verdict, paired_interval

from .studies import add_verification, make_study, temperature_times_kd


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
    study = make_study(temperature_times_kd, 30, baseline=[0.78, 0.80])
    add_verification(study, distilled, baseline, **kw)
    return compute_verdict(study, n_bootstrap=1000)


def test_a_verified_clear_gain_is_helped_with_every_field():
    v = _verified([0.95, 0.93, 0.94], 0.88)
    assert v.verdict == HELPED and v.split == "test" and v.seeds == [1, 2, 3]
    assert 0 < v.gain["low"] < v.gain["mean"] < v.gain["high"]
    assert len(v.distilled.val) == len(v.distilled.test) == 3 == len(v.baseline.test)
    assert v.baseline.params["kd_weight"] == 0.0 and v.distilled.params["kd_weight"] > 0
    assert set(v.distilled.params) == set(v.baseline.params) == {"temperature", "kd_weight", "lr"}
    assert v.gain["mean"] == pytest.approx(np.mean(v.distilled.test) - np.mean(v.baseline.test))
    assert v.summary.startswith("Distillation helped: +0.0")
    data = v.to_json()
    assert {"split", "seeds", "verdict", "gain", "distilled", "baseline"} <= set(data)
    assert set(data["gain"]) == {"mean", "low", "high"} and set(data["distilled"]) >= {"params", "val", "test"}


def test_the_exported_side_is_the_best_mean_val_not_the_best_search_trial():
    """Rank 2 verifies better than rank 1 (the winner's curse): the verdict takes rank 2."""
    study = make_study(temperature_times_kd, 30, baseline=[0.80])
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
