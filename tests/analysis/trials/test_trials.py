"""Trial selection, the merged search space and the log10 view the evaluators see."""

from __future__ import annotations

import math
import warnings

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.importance import (
    MeanDecreaseImpurityImportanceEvaluator,
    PedAnovaImportanceEvaluator,
    get_param_importances,
)
from optuna.trial import TrialState

from tempopt.analysis import count_trials, log10_view, search_space
from tempopt.analysis.trials._trials import complete_trials, position_in_range
from tests.analysis.studies import make_study, only_temperature


def test_counts_every_state_and_uses_only_complete_finite_trials():
    study = make_study(only_temperature, 10, baseline=[0.8], pruned=3, legacy=True)  # a baseline among its trials
    study.add_trial(optuna.trial.create_trial(state=TrialState.FAIL))
    study.add_trial(optuna.trial.create_trial(state=TrialState.RUNNING))
    counts = count_trials(study.trials)
    assert (counts.complete, counts.pruned, counts.failed, counts.running) == (11, 3, 1, 1)
    assert counts.describe() == "16 trials: 11 complete, 3 pruned, 1 failed, 1 running"
    assert len(complete_trials(study.trials)) == 11


def test_search_space_keeps_a_widened_range_as_its_envelope():
    study = optuna.create_study(direction="maximize")
    for high, t in ((10.0, 2.0), (40.0, 30.0)):
        study.add_trial(
            optuna.trial.create_trial(
                params={"temperature": t},
                distributions={"temperature": FloatDistribution(1.0, high, log=True)},
                value=0.5,
            )
        )
    assert search_space(study.trials) == {"temperature": FloatDistribution(1.0, 40.0, log=True)}
    # Optuna's intersection search space would have dropped the param.
    assert optuna.search_space.intersection_search_space(study.trials) == {}


def test_log10_view_replaces_log_params_by_their_log10():
    study = make_study(only_temperature, 5)
    trials = complete_trials(study.trials)
    view = log10_view(trials, search_space(trials))
    first = view.trials[0]
    assert first.distributions["lr"] == FloatDistribution(-4.0, -1.0)
    assert first.params["lr"] == pytest.approx(math.log10(trials[0].params["lr"]))
    assert first.params["kd_weight"] == trials[0].params["kd_weight"]  # linear params untouched
    assert [t.value for t in view.trials] == [t.value for t in trials]


def test_log10_view_changes_nothing_for_ped_anova_and_mdi():
    """PED-ANOVA already works on log(x) and a forest's splits ignore monotone transforms."""
    study = make_study(lambda p: 0.7 + 0.1 * (p["lr"] < 1e-3) + 0.05 * p["kd_weight"], 40, baseline=None)
    trials = complete_trials(study.trials)
    view = log10_view(trials, search_space(trials))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for make in (PedAnovaImportanceEvaluator, lambda: MeanDecreaseImpurityImportanceEvaluator(seed=1)):
            raw = get_param_importances(study, evaluator=make())
            logged = get_param_importances(view, evaluator=make())
            assert logged == pytest.approx(raw)


@pytest.mark.parametrize(("value", "expected"), [(1.0, 0.0), (20.0, 1.0), (math.sqrt(20), 0.5)])
def test_position_in_a_log_range_is_measured_in_decades(value, expected):
    dist = FloatDistribution(1.0, 20.0, log=True)
    assert position_in_range(value, dist) == pytest.approx(expected)
