"""Study files that fix a dimension, or give kd_weight choices without 0, run end to end."""

from __future__ import annotations

import json

import optuna
import yaml
from optuna.trial import TrialState

from tempopt.analysis import compute_verdict
from tempopt.distill import JobConfig, prepare_teacher, run_job
from tempopt.study.search.metrics import distils
from tempopt.study.spec.host import load_spec_task
from tempopt.study.spec.model import parse_spec
from tempopt.study.stored import baseline_trials, load_verification
from tests.cli.conftest import write_spec

TEMPERATURE = {"low": 1.0, "high": 20.0, "log": True}


def _run(tmp_path, cli, search, **overrides) -> optuna.Study:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    spec = write_spec(tmp_path, search=search, verify={"top_k": 1, "seeds": 1}, **overrides)
    result = cli("run", spec, "--storage", url, "-q")
    assert result.exit_code == 0, result.output
    return optuna.load_study(study_name="tiny", storage=url)


def test_a_fixed_lr_is_no_trial_param_yet_every_job_and_the_retrained_student_use_it(tmp_path, cli):
    search = {"temperature": TEMPERATURE, "kd_weight": {"low": 0.0, "high": 1.0}, "lr": 0.01}
    study = _run(tmp_path, cli, search, baseline_lrs=None)
    verification = load_verification(study)
    assert verification is not None and verification.trials
    baselines = baseline_trials(study)
    assert all("lr" not in t.params for t in study.trials + baselines + verification.trials)
    assert study.user_attrs["spec"]["search"]["lr"] == 0.01

    # the trial's job trained with lr 0.01: the same job by hand gives its value exactly, another lr does not
    trial = next(t for t in study.trials if distils(t) and t.state == TrialState.COMPLETE)
    task = load_spec_task(parse_spec(study.user_attrs["spec"]))
    teacher = prepare_teacher(task, tmp_path / "cache", device="cpu")
    by_hand = {
        lr: run_job(
            task, JobConfig(trial.params["temperature"], trial.params["kd_weight"], lr, 4, 64, device="cpu"), teacher
        )
        for lr in (0.01, 0.02)
    }
    assert by_hand[0.01].final_accuracy == trial.value != by_hand[0.02].final_accuracy

    # the baseline runs its share of the trials with the one lr (nothing else of the student is searched)
    assert len(baselines) == 3 and len({t.value for t in baselines}) == 1
    assert all(t.params == {} for t in baselines)  # the student alone searches nothing here

    best = tmp_path / "best.yaml"
    assert (
        cli("export", "--study", "tiny", "--storage", f"sqlite:///{tmp_path / 'studies.db'}", "--out", best).exit_code
        == 0
    )
    exported = yaml.safe_load(best.read_text())
    assert exported["fixed"] == {"lr": 0.01} and "lr" not in exported["params"]
    result = cli("train", best, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["final_accuracy"] == exported["value"] and metrics["fixed"] == {"lr": 0.01}


def test_kd_weight_choices_without_0_fail_no_baseline(tmp_path, cli):
    search = {"temperature": TEMPERATURE, "kd_weight": {"choices": [0.5, 0.9]}, "lr": {"low": 1.0e-3, "high": 0.1}}
    study = _run(tmp_path, cli, search)
    baselines = baseline_trials(study)
    assert not [t for t in study.trials + baselines if t.state == TrialState.FAIL]
    assert len(baselines) == 3 and all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in baselines)
    assert all(set(t.params) == {"lr"} for t in baselines)
    assert all(t.params["kd_weight"] in (0.5, 0.9) for t in study.trials)
    replicates = load_verification(study).trials
    assert {t.user_attrs["role"] for t in replicates} == {"distilled", "baseline"}
    assert all(t.state == TrialState.COMPLETE for t in replicates)
    verdict = compute_verdict(study)
    assert verdict.verified and verdict.baseline is not None
