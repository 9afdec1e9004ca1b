"""KD gain against the baseline, on hand-built studies."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from tempopt.analysis import kd_gain
from tempopt.analysis._kd_gain import HELPED, HURT, NO_CLEAR_GAIN, UNKNOWN, summarise_trial

DISTS = {"temperature": FloatDistribution(1.0, 20.0, log=True),
         "kd_weight": FloatDistribution(0.0, 1.0)}


def add(study, value, kd_weight, *, wobble=0.002, baseline=False, state=TrialState.COMPLETE):
    """A trial whose last 5 epochs rise by 0.01 each and wobble by ±``wobble``."""
    final = value if value is not None else 0.5
    curve = {e: final - 0.01 * (6 - e) + (wobble if e % 2 else -wobble) for e in range(1, 7)}
    study.add_trial(optuna.trial.create_trial(
        state=state, value=value, params={"temperature": 4.0, "kd_weight": kd_weight},
        distributions=DISTS, intermediate_values=curve, user_attrs={"baseline": baseline}))


def study_with(baseline: float | list[float] | None, distilled: list[float], wobble=0.002):
    study = optuna.create_study(direction="maximize")
    for value in [baseline] if isinstance(baseline, float) else baseline or []:
        add(study, value, 0.0, wobble=wobble, baseline=True)
    for i, value in enumerate(distilled):
        add(study, value, 0.2 + 0.1 * i, wobble=wobble)
    return study


def test_gain_is_best_distilled_minus_baseline():
    kd = kd_gain(study_with(0.80, [0.82, 0.85, 0.83]))
    assert kd.gain == pytest.approx(0.05)
    assert kd.baseline.number == 0 and kd.best_distilled.number == 2
    assert kd.verdict == HELPED and kd.helped
    assert kd.summary.startswith("Distillation helped: +0.0500")
    assert kd.top_k_mean == pytest.approx((0.82 + 0.85 + 0.83) / 3)


def test_the_best_of_several_baseline_trials_is_the_reference():
    """tempopt run trains the student alone at a few learning rates; the best one counts."""
    kd = kd_gain(study_with([0.60, 0.80, 0.70], [0.85]))
    assert kd.baseline.number == 1 and kd.n_baselines == 3
    assert kd.gain == pytest.approx(0.05)
    assert "baseline #1 (0.8000, best of 3)" in kd.summary


def test_noise_ignores_a_steady_rise_and_measures_the_wobble():
    """Alternating ±0.002 on a rising curve: the plain std would mix in the rise."""
    trial = study_with(0.80, []).trials[0]
    # the plain std of the last 5 values would be ~0.016, almost all of it the rise
    noise = summarise_trial(trial).noise
    assert 0.002 < noise < 0.004
    flat = study_with(0.80, [], wobble=0.0).trials[0]
    assert summarise_trial(flat).noise == pytest.approx(0.0, abs=1e-12)


def test_a_worse_best_distilled_trial_says_distillation_did_not_help():
    kd = kd_gain(study_with(0.80, [0.79, 0.75]))
    assert kd.gain == pytest.approx(-0.01)
    assert kd.verdict == HURT and not kd.helped
    assert "did NOT help" in kd.summary


def test_a_gain_within_the_noise_is_not_called_help():
    kd = kd_gain(study_with(0.80, [0.803], wobble=0.01))
    assert kd.gain == pytest.approx(0.003) and kd.noise > 0.0015
    assert kd.verdict == NO_CLEAR_GAIN and not kd.helped
    assert "did NOT help clearly" in kd.summary


def test_a_missing_baseline_is_said_not_guessed():
    kd = kd_gain(study_with(None, [0.85]))
    assert kd.verdict == UNKNOWN and kd.gain is None
    assert "no baseline trial" in kd.summary
    assert kd.best_distilled.value == pytest.approx(0.85)


def test_a_pruned_baseline_is_named():
    study = optuna.create_study(direction="maximize")
    add(study, None, 0.0, baseline=True, state=TrialState.PRUNED)
    add(study, 0.85, 0.5)
    kd = kd_gain(study)
    assert kd.verdict == UNKNOWN
    assert "no baseline trial has completed (#0 is PRUNED)" in kd.summary


def test_trials_without_intermediate_values_decide_on_the_sign_and_say_so():
    study = optuna.create_study(direction="maximize")
    for value, kd_weight, base in ((0.80, 0.0, True), (0.81, 0.5, False)):
        study.add_trial(optuna.trial.create_trial(
            value=value, params={"temperature": 4.0, "kd_weight": kd_weight},
            distributions=DISTS, user_attrs={"baseline": base}))
    kd = kd_gain(study)
    assert kd.noise is None and kd.verdict == HELPED
    assert "noise is unknown" in kd.summary
