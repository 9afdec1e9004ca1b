"""Batched trials through Optuna: K trials trained together, each reported, pruned and told alone."""

from __future__ import annotations

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from tempopt.distill import prepare_teacher, run_job
from tempopt.study.spec.host import load_spec_task
from tempopt.study.spec.model import parse_spec
from tempopt.study.trial.objective import job_config

from .conftest import tiny_spec, write_spec


def _url(tmp_path):
    return f"sqlite:///{tmp_path / 'studies.db'}"


def _study(tmp_path):
    return optuna.load_study(study_name="tiny", storage=_url(tmp_path))


def test_a_batched_study_has_its_budget_and_each_member_is_the_lone_trial(tmp_path, cli):
    spec = write_spec(tmp_path, trials=7, verify={"seeds": 0}, batch_trials=4)
    result = cli("run", spec, "--storage", _url(tmp_path), "-q")
    assert result.exit_code == 0, result.output
    search = _study(tmp_path).trials
    baselines = optuna.load_study(study_name="tiny:baseline", storage=_url(tmp_path)).trials
    trials = baselines + search
    assert (len(baselines), len(search)) == (3, 4) and all(t.state == TrialState.COMPLETE for t in trials)
    assert [t.user_attrs["batch"] for t in trials] == [[0, 1, 2]] * 3 + [[0, 1, 2, 3]] * 4  # a batch per study
    parsed = parse_spec(tiny_spec(tmp_path, trials=7))
    task = load_spec_task(parsed)  # with the study's teacher recipe
    teacher = prepare_teacher(task, parsed.cache_dir, device="cpu", seed=parsed.teacher.seed)
    for t in trials:  # trained together, each is exactly the trial it would have been alone
        config = job_config(parsed, {"kd_weight": 0.0, **t.params})  # a baseline trial holds lr alone
        alone = run_job(task, config, teacher if config.kd_weight > 0 else None)
        assert alone.history == [t.intermediate_values[e] for e in sorted(t.intermediate_values)]
        assert alone.final_accuracy == t.value


def test_pruned_members_leave_the_batch_with_their_last_step(tmp_path, cli):
    spec = write_spec(
        tmp_path,
        trials=12,
        epochs=6,
        verify={"seeds": 0},
        batch_trials=6,
        baseline=False,
        sampler={"name": "random"},
        pruner={"name": "median", "warmup_epochs": 1, "startup_trials": 2},
    )
    assert cli("run", "--batch-trials", "6", spec, "--storage", _url(tmp_path), "-q").exit_code == 0
    trials = _study(tmp_path).trials
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    assert pruned and len([t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]) == 12
    for t in pruned:
        assert t.last_step == t.user_attrs["epochs_run"] < 6 and len(t.intermediate_values) == t.last_step
    assert all(len(t.intermediate_values) == 6 for t in trials if t.state == TrialState.COMPLETE)


def test_trials_that_cannot_share_a_pass_run_one_at_a_time_and_say_why_once(tmp_path, cli):
    search = {**tiny_spec(tmp_path)["search"], "batch_size": {"choices": [32, 64]}}
    spec = write_spec(tmp_path, trials=3, verify={"seeds": 0}, batch_trials=4, search=search)
    result = cli("run", spec, "--storage", _url(tmp_path))
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert text.count("batch_trials: 4 falls back to one trial at a time: search.batch_size is searched") == 1
    assert not any("batch" in t.user_attrs for t in _study(tmp_path).trials)


def test_a_batchnorm_resnet_on_augmented_images_batches_and_each_trial_is_the_lone_one(tmp_path, cli):
    """mnist made tiny: a resnet8 student (BatchNorm), random crops and the view bank, batch_trials 8."""
    spec = write_spec(
        tmp_path,
        task="mnist",
        task_args={"labelled": 64, "val": 100, "transfer": 64, "teacher_arch": "resnet8", "student_arch": "resnet8"},
        teacher={"epochs": 1},
        augment={"crop": 1},
        epochs=2,
        trials=10,
        batch_size=32,
        verify={"seeds": 0},
        batch_trials=8,
    )
    result = cli("run", spec, "--storage", _url(tmp_path))
    assert result.exit_code == 0, result.output
    assert "falls back" not in result.output and "teacher view bank: 2 views" in result.output
    search = _study(tmp_path).trials
    baselines = optuna.load_study(study_name="tiny:baseline", storage=_url(tmp_path)).trials
    assert all(len(t.user_attrs["batch"]) > 1 for t in search + baselines)  # trained together
    parsed = parse_spec(yaml.safe_load(spec.read_text()))
    task = load_spec_task(parsed)
    teacher = prepare_teacher(task, parsed.cache_dir, device="cpu", views=parsed.teacher_views)
    assert teacher.bank is not None and teacher.bank.source == "cache"
    for t in baselines + search:  # each re-run alone gives the value the batch gave it
        config = job_config(parsed, {"kd_weight": 0.0, **t.params})
        alone = run_job(task, config, teacher if config.kd_weight > 0 else None)
        assert alone.history == pytest.approx([t.intermediate_values[e] for e in sorted(t.intermediate_values)])
