"""What-to-try-next advice read off an analysis."""

from __future__ import annotations

import math

from tempopt.analysis import analyse_study
from tests.analysis.studies import make_study, only_temperature


def steps_for(study) -> list[str]:
    return analyse_study(study, n_bootstrap=0).next_steps


def test_best_temperature_at_the_top_of_the_range_asks_to_widen_it():
    study = make_study(lambda p: 0.75 + 0.05 * math.log10(p["temperature"]), 40)
    steps = steps_for(study)
    assert any(
        "best temperature" in s and "upper edge" in s and "set search.temperature.high to 40" in s for s in steps
    ), steps


def test_kd_weight_at_one_is_not_widened_past_one():
    study = make_study(lambda p: 0.75 + 0.1 * p["kd_weight"], 40)
    steps = steps_for(study)
    assert any("best kd_weight" in s and "as far as it goes" in s for s in steps), steps
    assert not any("search.kd_weight.high" in s for s in steps)


def test_params_without_effect_are_suggested_to_fix_not_to_widen():
    steps = steps_for(make_study(only_temperature, 60))
    assert any(s.startswith("lr barely matters") for s in steps), steps
    assert any(s.startswith("kd_weight barely matters") for s in steps), steps
    assert not any("search.lr" in s for s in steps)


def test_rough_importances_from_few_trials_fix_nothing():
    steps = steps_for(make_study(only_temperature, 20))
    assert not any("barely matters" in s for s in steps), steps


def test_a_teacher_no_better_than_the_baseline_is_called_out():
    study = make_study(lambda p: 0.70, 20, baseline=0.80)
    study.set_user_attr("teacher_accuracy", 0.78)
    steps = steps_for(study)
    assert any("use a stronger teacher" in s for s in steps), steps


def test_too_few_trials_and_a_missing_baseline_are_the_first_advice():
    steps = steps_for(make_study(only_temperature, 4, baseline=None))
    assert steps[0].startswith("Only 4 complete sampled trials")
    assert steps[0].endswith("so run more trials.")
    assert any("no baseline trial" in s for s in steps)
