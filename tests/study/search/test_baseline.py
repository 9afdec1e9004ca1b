"""The student alone gets its own search: a share of the trials, its own sampler, its own pruner group."""

from __future__ import annotations

import math

import optuna
import pytest
from optuna.trial import TrialState

from tempopt.errors import SpecError
from tempopt.study.optuna_internals import claim_waiting, group_view
from tempopt.study.search.baseline import BaselineRouter, baseline_count, baseline_slots, start_lrs, suggest_baseline
from tempopt.study.search.space import make_pruner, suggest
from tempopt.study.spec.model import parse_spec
from tempopt.study.stored import (
    BASELINE_STUDY_ATTR,
    SEARCH_ID_ATTR,
    SEARCH_STUDY_ATTR,
    baseline_trials,
    is_baseline,
)
from tempopt.study.workers.creation import create_or_resume, open_baseline

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
    study = create_or_resume(spec, optuna.storages.InMemoryStorage())
    assert open_baseline(study, spec) is None and BASELINE_STUDY_ATTR not in study.user_attrs


def test_the_share_follows_the_total_so_raising_trials_raises_it():
    spec = make_spec(trials=6)
    assert baseline_count(spec) == 3 and baseline_count(spec, 30) == 8 and baseline_count(spec, 12) == 5


def test_the_queued_slots_start_at_the_quarter_points_and_hold_only_what_the_student_alone_uses():
    spec = make_spec()
    slots = baseline_slots(spec)
    assert [set(s) for s in slots] == [{"lr"}] * 3  # no temperature, no kd_weight, no loss variant
    assert [s["lr"] for s in slots] == pytest.approx([10**-3.25, 10**-2.5, 10**-1.75])
    assert start_lrs(make_spec(baseline_lrs=[0.01, 0.05])) == [0.01, 0.05]
    searched = make_spec(search={**make_spec().search.model_dump(), "weight_decay": {"low": 0.0, "high": 0.1}})
    assert [set(s) for s in baseline_slots(searched)] == [{"lr", "weight_decay"}] * 3
    assert baseline_slots(searched)[0]["weight_decay"] == pytest.approx(0.05)


def _objective(params: dict, baseline: bool) -> float:
    """The student alone peaks at lr = BEST_LR; distilled trials peak elsewhere, at a higher value."""
    if baseline:
        return 0.9 - 0.1 * (math.log10(params["lr"]) - math.log10(BEST_LR)) ** 2
    return 0.95 - 0.1 * (math.log10(params["lr"]) + 3.5) ** 2


def _run(spec, n_baselines: int, n_distilled: int = 0, distilled_value=None) -> tuple[optuna.Study, optuna.Study]:
    """The search study and its baseline sibling after ``n_baselines`` baseline trials (queued
    ones first), then ``n_distilled`` distilled trials, run as the objective asks them."""
    storage = optuna.storages.InMemoryStorage()
    study = create_or_resume(spec, storage)
    sibling = open_baseline(study, spec)
    for _ in range(n_baselines):
        trial = sibling.ask()
        sibling.tell(trial, _objective(suggest_baseline(trial, spec), True))
    for _ in range(n_distilled):
        trial = study.ask()
        params = suggest(trial, spec)
        study.tell(trial, _objective(params, False) if distilled_value is None else distilled_value)
    return study, sibling


def test_baseline_trials_live_in_a_sibling_searched_by_a_sampler_of_their_own():
    spec = make_spec()
    study, sibling = _run(spec, 8, 12)
    assert sibling.study_name == "b:baseline" and study.user_attrs[BASELINE_STUDY_ATTR] == "b:baseline"
    assert sibling.user_attrs[SEARCH_STUDY_ATTR] == "b" and sibling.user_attrs[SEARCH_ID_ATTR] == study._study_id
    assert all(set(t.params) == {"lr"} for t in sibling.trials)  # never a phantom temperature or kd_weight
    assert [t.user_attrs.get("baseline") for t in sibling.trials[:3]] == [True] * 3  # the queued ones
    sampled = [t.params["lr"] for t in sibling.trials[3:]]
    assert len(set(sampled)) == 5 and all(1e-4 <= lr <= 1e-1 for lr in sampled)
    best = max(sibling.trials, key=lambda t: t.value)
    assert abs(math.log10(best.params["lr"]) - math.log10(BEST_LR)) < 0.4  # closer than any start point
    assert all(set(t.params) == {"temperature", "kd_weight", "lr"} for t in study.trials)
    assert baseline_trials(study) == sibling.trials and not any(is_baseline(t) for t in study.trials)


def test_the_baseline_search_is_reproducible_and_blind_to_the_distilled_results():
    spec = make_spec(trials=40, baseline_share=0.5)
    a, b = _run(spec, 10), _run(spec, 10)
    assert [t.params for t in a[1].trials] == [t.params for t in b[1].trials]
    lrs = []
    for distilled_value in (0.1, 0.99):  # distilled trials run before the baseline's fourth trial
        study, sibling = _run(make_spec(trials=12), 3, 2, distilled_value)
        trial = sibling.ask()
        lrs.append(suggest_baseline(trial, spec)["lr"])
    assert lrs[0] == lrs[1]


def test_a_study_made_before_the_sibling_resumes_with_its_baselines_among_its_trials():
    spec = make_spec(trials=12)
    storage = optuna.storages.InMemoryStorage()
    old = optuna.create_study(storage=storage, study_name="b", direction="maximize")
    old.set_user_attr("spec", spec.to_dict())
    for lr in (1e-3, 1e-2):  # how an older tempopt queued its baselines: kd_weight and T fixed
        old.enqueue_trial({"kd_weight": 0.0, "temperature": 4.47, "lr": lr}, user_attrs={"baseline": True})
    old.enqueue_trial({"kd_weight": 0.0, "temperature": 4.47}, user_attrs={"baseline": True})
    study = create_or_resume(spec, storage)
    assert isinstance(study.sampler, BaselineRouter) and open_baseline(study, spec) is None
    for _ in range(3):
        trial = claim_waiting(study)
        study.tell(trial, _objective(suggest_baseline(trial, spec), True))
    assert [t.params["lr"] for t in study.trials[:2]] == [1e-3, 1e-2] and 1e-4 <= study.trials[2].params["lr"] <= 0.1
    assert len(baseline_trials(study)) == 3 and all(is_baseline(t) for t in study.trials)
    assert optuna.get_all_study_names(storage) == ["b"]


def test_a_leftover_sibling_of_an_older_study_is_replaced_and_a_foreign_one_refused():
    spec = make_spec()
    storage = optuna.storages.InMemoryStorage()
    study = create_or_resume(spec, storage)
    open_baseline(study, spec).enqueue_trial({"lr": 0.5}, user_attrs={"baseline": True})
    optuna.delete_study(study_name="b", storage=storage)  # the search study deleted, its sibling left
    again = create_or_resume(spec, storage)
    sibling = open_baseline(again, spec)
    assert sibling.user_attrs[SEARCH_ID_ATTR] == again._study_id and len(sibling.trials) == 3
    storage = optuna.storages.InMemoryStorage()
    foreign = optuna.create_study(storage=storage, study_name="b:baseline")
    foreign.set_user_attr("mine", True)
    with pytest.raises(SpecError, match="'b:baseline' already exists and is not the baseline study"):
        create_or_resume(spec, storage)
    assert optuna.get_all_study_names(storage) == ["b:baseline"]  # nothing half-made is left


def test_the_router_wraps_any_sampler():
    spec = make_spec(sampler={"name": "random"})
    router = BaselineRouter(optuna.samplers.RandomSampler(seed=1), spec, 0)
    study = optuna.create_study(direction="maximize", sampler=router)
    study.enqueue_trial({"kd_weight": 0.0, "temperature": 4.0}, user_attrs={"baseline": True})
    trial = study.ask()
    assert set(suggest_baseline(trial, spec)) == {"lr"} and 1e-4 <= trial.params["lr"] <= 1e-1


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
    view = group_view(study, is_baseline)
    assert [t.number for t in view.get_trials(deepcopy=False)] == [0]
    assert [t.number for t in group_view(study, lambda t: not is_baseline(t)).trials] == [1]
    assert view.study_name == study.study_name and len(study.trials) == 2  # the real study is untouched
