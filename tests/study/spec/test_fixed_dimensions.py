"""A plain number under ``search:`` fixes that dimension: recorded in the spec, never a trial
param, yet what every job uses; and the student alone's kd_weight 0 fits any search space."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from tempopt.errors import SpecError
from tempopt.study.search.baseline import baseline_count, baseline_slots, baseline_space
from tempopt.study.search.metrics import distils
from tempopt.study.search.space import distributions
from tempopt.study.spec.model import parse_spec
from tempopt.study.trial.objective import Objective
from tempopt.study.workers.creation import create_or_resume, open_baseline

optuna.logging.set_verbosity(optuna.logging.WARNING)


def make_spec(**search):
    data = {
        "name": "f",
        "task": "digits",
        "epochs": 4,
        "trials": 12,
        "search": {
            "temperature": {"low": 1.0, "high": 20.0, "log": True},
            "kd_weight": {"low": 0.0, "high": 1.0},
            "lr": {"low": 1.0e-4, "high": 1.0e-1, "log": True},
            **search,
        },
        "sampler": {"name": "random"},
    }
    return parse_spec(data)


def _run(spec, n: int) -> tuple[optuna.Study, optuna.Study, dict]:
    """The search study and its baseline sibling after ``n`` trials asked as the objective asks
    them (the baseline's share first), each told a made-up value; and each job's (lr, kd_weight,
    batch_size), by study name and trial number."""
    study = create_or_resume(spec, optuna.storages.InMemoryStorage())
    sibling = open_baseline(study, spec)
    share = baseline_count(spec, n)
    configs = {}
    for target, objective, count in (
        (sibling, Objective(spec, None, None, baseline=True), share),  # type: ignore[arg-type]
        (study, Objective(spec, None, None), n - share),  # type: ignore[arg-type]
    ):
        for _ in range(count):
            trial = target.ask()
            config = objective.configure(trial)[1]
            target.tell(trial, 0.5)
            configs[target.study_name, trial.number] = (config.lr, config.kd_weight, config.batch_size)
    return study, sibling, configs


def test_a_fixed_value_is_kept_in_the_spec_and_left_out_of_the_search_space():
    spec = make_spec(lr=0.01, batch_size=32)
    assert spec.search.fixed() == {"lr": 0.01, "batch_size": 32}
    assert set(spec.search.dimensions()) == {"temperature", "kd_weight"}
    assert set(distributions(spec)) == {"temperature", "kd_weight"}
    assert spec.to_dict()["search"]["lr"] == 0.01
    assert parse_spec(spec.to_dict()) == spec  # the stored spec reads back the same


def test_no_trial_has_a_fixed_param_yet_every_job_uses_it():
    spec = make_spec(lr=0.01, batch_size=32)
    study, sibling, configs = _run(spec, 12)
    trials = study.trials + sibling.trials
    assert len(sibling.trials) == 5 and all(t.state == TrialState.COMPLETE for t in trials)
    assert all("lr" not in t.params and "batch_size" not in t.params for t in trials)
    assert all(lr == 0.01 and batch == 32 for lr, _, batch in configs.values())
    assert all(kd == 0.0 for (name, _), (_, kd, _) in configs.items() if name == "f:baseline")
    assert all(kd > 0 for (name, _), (_, kd, _) in configs.items() if name == "f")


def test_a_fixed_lr_leaves_the_baseline_nothing_to_queue_or_search():
    spec = make_spec(lr=0.01)
    assert baseline_slots(spec) == [] and baseline_space(spec) == {}  # every baseline trains with the one lr


def test_a_fixed_kd_weight_distils_every_trial_but_the_baselines():
    spec = make_spec(kd_weight=0.7, temperature=4.0)
    study, sibling, configs = _run(spec, 12)
    assert all("kd_weight" not in t.params and "temperature" not in t.params for t in study.trials + sibling.trials)
    assert all(configs["f", t.number][1] == 0.7 and distils(t) for t in study.trials)
    assert all(configs["f:baseline", t.number][1] == 0.0 and not distils(t) for t in sibling.trials)


def test_kd_weight_choices_without_0_leave_the_baselines_their_0():
    spec = make_spec(kd_weight={"choices": [0.5, 0.9]})
    study, sibling, configs = _run(spec, 12)
    assert all(t.state == TrialState.COMPLETE for t in study.trials + sibling.trials)
    for t in sibling.trials:
        assert set(t.params) == {"lr"} and configs["f:baseline", t.number][1] == 0.0 and not distils(t)
    for t in study.trials:
        assert t.params["kd_weight"] in (0.5, 0.9) and configs["f", t.number][1] == t.params["kd_weight"]
        assert distils(t)


def test_a_baseline_replicate_is_the_student_alone_too():
    spec = make_spec(kd_weight={"choices": [0.5, 0.9]})
    study = optuna.create_study(direction="maximize")
    study.enqueue_trial({"lr": 0.01}, user_attrs={"role": "baseline", "student_seed": 1})
    study.enqueue_trial({"lr": 0.01, "temperature": 4.0, "kd_weight": 0.9}, user_attrs={"role": "distilled"})
    alone, distilled = study.ask(), study.ask()
    objective = Objective(spec, None, None)  # type: ignore[arg-type]
    assert objective.configure(alone)[1].kd_weight == 0.0 and set(alone.params) == {"lr"}
    assert objective.configure(distilled)[1].kd_weight == 0.9


@pytest.mark.parametrize(
    ("search", "message"),
    [
        ({"lr": -1}, "key 'search.lr': a fixed value must be a number > 0, got -1"),
        ({"kd_weight": 2}, "key 'search.kd_weight': a fixed value must be a number within [0, 1], got 2"),
        ({"kd_weight": 0}, "key 'search.kd_weight': a fixed kd_weight of 0 distils in no trial"),
        ({"batch_size": 0}, "key 'search.batch_size': a fixed value must be an integer >= 1, got 0"),
        ({"temperature": 0.0}, "key 'search.temperature': a fixed value must be a number > 0, got 0"),
        ({"lr": "fast"}, "key 'search.lr': give a number (a fixed value) or a mapping such as"),
    ],
)
def test_a_fixed_value_is_checked_against_what_it_feeds(search, message):
    with pytest.raises(SpecError) as e:
        make_spec(**search)
    assert message in str(e.value) and "<" not in str(e.value)  # no union member names in the sentence


def test_a_misspelt_key_is_named_unknown_before_the_required_one_it_leaves_missing():
    data = make_spec().to_dict()
    data["search"]["kd_wieght"] = data["search"].pop("kd_weight")
    with pytest.raises(SpecError, match=r"unknown key 'search.kd_wieght' \(did you mean 'kd_weight'\?\)"):
        parse_spec(data)


def test_the_dashboard_note_says_a_dimension_is_fixed():
    from tempopt.analysis.dashboard._dashboard import spec_note

    study = optuna.create_study(direction="maximize")
    study.set_user_attr("spec", make_spec(lr=0.01).to_dict())
    note = spec_note(study)
    assert "| lr | 0.01 (fixed) |" in note and "| kd_weight | 0.0 – 1.0 |" in note
