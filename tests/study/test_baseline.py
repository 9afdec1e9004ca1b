"""The student alone gets its own search: a share of the trials, its own sampler, its own pruner group."""

from __future__ import annotations

import math

import optuna
import pytest
from optuna.trial import TrialState

from tempopt.study.baseline import BaselineRouter, baseline_count, baseline_slots, start_lrs
from tempopt.study.creation import create_or_resume
from tempopt.study.optuna_compat import claim_waiting, group_view
from tempopt.study.search import make_pruner, suggest
from tempopt.study.spec import parse_spec

optuna.logging.set_verbosity(optuna.logging.WARNING)
BEST_LR = 0.03  # where the student alone peaks in the synthetic objective


def make_spec(**overrides):
    data = {
        "name": "b",
        "task": "digits",
        "epochs": 4,
        "trials": 30,
        "search": {
            "temperature": {"low": 1.0, "high": 20.0, "log": True},
            "kd_weight": {"low": 0.0, "high": 1.0},
            "lr": {"low": 1.0e-4, "high": 1.0e-1, "log": True},
        },
        "sampler": {"name": "tpe", "startup_trials": 5},
        "pruner": {"name": "median", "warmup_epochs": 1, "startup_trials": 2},
    }
    data.update(overrides)
    return parse_spec(data)


@pytest.mark.parametrize(
    ("trials", "share", "expected"),
    [(30, 0.25, 8), (100, 0.25, 25), (12, 0.25, 5), (6, 0.25, 3), (1, 0.25, 0), (30, 0.5, 15), (40, 0.1, 5)],
)
def test_the_baseline_share_is_at_least_5_and_at_most_half(trials, share, expected):
    assert baseline_count(make_spec(trials=trials, baseline_share=share)) == expected


def test_baseline_false_turns_them_off():
    spec = make_spec(baseline=False)
    assert baseline_count(spec) == 0 and baseline_slots(spec) == []


def test_the_first_slots_start_at_the_quarter_points_and_the_rest_leave_lr_to_the_sampler():
    spec = make_spec()
    slots = baseline_slots(spec)
    assert len(slots) == 8 and all(s["kd_weight"] == 0.0 for s in slots)
    assert [s["lr"] for s in slots[:3]] == pytest.approx([10**-3.25, 10**-2.5, 10**-1.75])
    assert all("lr" not in s for s in slots[3:])
    assert start_lrs(make_spec(baseline_lrs=[0.01, 0.05])) == [0.01, 0.05]


def _objective(params: dict, baseline: bool) -> float:
    """The student alone peaks at lr = BEST_LR; distilled trials peak elsewhere, at a higher value."""
    if baseline:
        return 0.9 - 0.1 * (math.log10(params["lr"]) - math.log10(BEST_LR)) ** 2
    return 0.95 - 0.1 * (math.log10(params["lr"]) + 3.5) ** 2


def _run(spec, n: int, distilled_value=None) -> optuna.Study:
    storage = optuna.storages.InMemoryStorage()
    study = create_or_resume(spec, storage)
    for _ in range(n):
        trial = study.ask()
        params = suggest(trial, spec)
        baseline = trial.user_attrs.get("baseline") is True
        value = _objective(params, baseline) if baseline or distilled_value is None else distilled_value
        study.tell(trial, value)
    return study


def test_baseline_trials_are_searched_by_a_sampler_of_their_own():
    spec = make_spec()
    study = _run(spec, 20)
    baselines = [t for t in study.trials if t.user_attrs.get("baseline")]
    assert [t.number for t in baselines] == list(range(8))  # queued first, 8 of 30
    assert all(t.params["kd_weight"] == 0.0 for t in baselines)
    sampled = [t.params["lr"] for t in baselines[3:]]
    assert len(set(sampled)) == 5 and all(1e-4 <= lr <= 1e-1 for lr in sampled)
    best = max(baselines, key=lambda t: t.value)
    assert abs(math.log10(best.params["lr"]) - math.log10(BEST_LR)) < 0.4  # closer than any start point
    assert all(not t.user_attrs.get("baseline") and t.params["kd_weight"] > 0 for t in study.trials[8:])


def test_the_baseline_search_is_reproducible_and_blind_to_the_distilled_results():
    spec = make_spec(trials=40, baseline_share=0.5)  # 20 baselines, queued first
    a = _run(spec, 20)
    b = _run(spec, 20)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]
    # a baseline slot asked after distilled trials ran: their values do not move its lr
    spec = make_spec(trials=12)
    storage = optuna.storages.InMemoryStorage()
    lrs = []
    for distilled_value in (0.1, 0.99):
        storage = optuna.storages.InMemoryStorage()
        study = create_or_resume(spec, storage)
        for _ in range(3):  # the three start points
            trial = claim_waiting(study)
            study.tell(trial, _objective(suggest(trial, spec), True))
        for lr in (1e-3, 1e-2):  # distilled trials added before the next baseline
            study.add_trial(
                optuna.trial.create_trial(
                    params={"temperature": 4.0, "kd_weight": 0.5, "lr": lr},
                    distributions=study.trials[0].distributions,
                    value=distilled_value,
                )
            )
        trial = claim_waiting(study)
        assert trial.user_attrs["baseline"] is True
        lrs.append(suggest(trial, spec)["lr"])
    assert lrs[0] == lrs[1]


def test_the_router_wraps_any_sampler():
    spec = make_spec(sampler={"name": "random"})
    router = BaselineRouter(optuna.samplers.RandomSampler(seed=1), spec, 0)
    study = optuna.create_study(direction="maximize", sampler=router)
    study.enqueue_trial({"kd_weight": 0.0, "temperature": 4.0}, user_attrs={"baseline": True})
    trial = study.ask()
    assert suggest(trial, spec)["kd_weight"] == 0.0 and 1e-4 <= trial.params["lr"] <= 1e-1


def _curve_trial(study, values, baseline) -> bool:
    """A trial run as the objective runs one: report, ask the pruner, every epoch. True if pruned."""
    study.enqueue_trial({"lr": 0.01}, user_attrs={"baseline": baseline})
    trial = study.ask()
    trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    for step, value in enumerate(values, 1):
        trial.report(value, step)
        if trial.should_prune():
            study.tell(trial, state=TrialState.PRUNED)
            return True
    study.tell(trial, values[-1])
    return False


@pytest.mark.parametrize("pruner", ["median", "successive_halving", "hyperband"])
def test_the_pruner_compares_baselines_with_baselines_and_distilled_with_distilled(pruner):
    spec = make_spec(pruner={"name": pruner, "warmup_epochs": 1, "startup_trials": 2, "min_resource": 1})
    # a fixed name: Hyperband puts trials in brackets by a hash of the study name and trial number
    study = optuna.create_study(study_name="grouped", direction="maximize", pruner=make_pruner(spec))
    for _ in range(4):
        _curve_trial(study, [0.3, 0.4, 0.5, 0.6], baseline=True)  # the student alone learns slowly
        _curve_trial(study, [0.8, 0.85, 0.9, 0.92], baseline=False)
    # good for a baseline, poor for a distilled trial
    verdicts = {baseline: _curve_trial(study, [0.55, 0.6, 0.65, 0.7], baseline) for baseline in (True, False)}
    assert verdicts == {True: False, False: True}


def test_group_view_and_claim_waiting_pin_the_optuna_internals_they_use():
    study = optuna.create_study(direction="maximize")
    assert claim_waiting(study) is None and study.trials == []  # never a fresh, unplanned trial
    study.enqueue_trial({"x": 1.0}, user_attrs={"baseline": True})
    study.enqueue_trial({"x": 2.0})
    first = claim_waiting(study)
    assert first.number == 0 and study.trials[0].state == TrialState.RUNNING
    view = group_view(study, baseline=True)
    assert [t.number for t in view.get_trials(deepcopy=False)] == [0]
    assert [t.number for t in group_view(study, baseline=False).trials] == [1]
    assert view.study_name == study.study_name and len(study.trials) == 2  # the real study is untouched
