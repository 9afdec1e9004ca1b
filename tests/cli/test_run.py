"""``tempopt run``, ``status``, ``export`` and ``train`` driven as a user would."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from tempopt.study.stored import all_trials
from tests.cli.conftest import write_spec


def _url(tmp_path):
    return f"sqlite:///{tmp_path / 'studies.db'}"


def _load(tmp_path, name="tiny"):
    return optuna.load_study(study_name=name, storage=_url(tmp_path))


def test_run_creates_a_plain_optuna_study_with_baseline_and_attributes(tmp_path, cli):
    spec = write_spec(tmp_path)
    result = cli("run", spec, "--storage", _url(tmp_path), "--quiet")
    assert result.exit_code == 0, result.output
    assert "6/6 finished" in result.output

    study = _load(tmp_path)
    sibling = _load(tmp_path, "tiny:baseline")
    trials, baselines = study.get_trials(), sibling.get_trials()
    finished = [t for t in trials + baselines if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 6 and len(baselines) == 3  # 6 // 2: the share is at most half the trials
    assert study.user_attrs["baseline_study"] == "tiny:baseline" and sibling.user_attrs["search_study"] == "tiny"
    assert all(t.user_attrs["baseline"] is True for t in baselines)
    assert baselines[0].params == {"lr": 1.0e-2}  # baseline_lrs; no phantom temperature or kd_weight
    assert all(set(t.params) == {"lr"} for t in baselines)
    for t in trials + baselines:
        if t in trials:
            assert set(t.params) == {"temperature", "kd_weight", "lr"} and "baseline" not in t.user_attrs
        assert 0.0 <= t.value <= 1.0
        assert t.user_attrs["epochs_run"] == 4
        assert t.user_attrs["device"] == "cpu"
        assert t.user_attrs["job_seconds"] > 0
        assert t.user_attrs["best_val_accuracy"] >= t.value
        assert sorted(t.intermediate_values) == [1, 2, 3, 4]
        assert t.intermediate_values[4] == t.value
    assert study.user_attrs["spec"]["name"] == "tiny"
    assert 0.5 < study.user_attrs["teacher_accuracy"] <= 1.0
    assert study.user_attrs["task"] == "digits"


def test_resume_stops_at_the_total_and_trials_flag_raises_it(tmp_path, cli):
    spec = write_spec(tmp_path)
    first = cli("run", spec, "--storage", _url(tmp_path), "--trials", "3", "-q")
    assert first.exit_code == 0
    assert "warning: trials: 3 gives 1 baseline trial" in " ".join(first.output.split())  # before the first trial
    assert (len(_load(tmp_path).get_trials()), len(_load(tmp_path, "tiny:baseline").get_trials())) == (2, 1)
    again = cli("run", spec, "--storage", _url(tmp_path), "--trials", "3", "-q")
    assert again.exit_code == 0
    assert "this worker ran 0" in again.output
    assert len(_load(tmp_path).get_trials()) == 2
    assert cli("run", spec, "--storage", _url(tmp_path), "-q").exit_code == 0
    trials, baselines = _load(tmp_path).get_trials(), _load(tmp_path, "tiny:baseline").get_trials()
    assert (len(trials), len(baselines)) == (3, 3)  # the baseline's share grew with the total: 6 // 2
    assert sorted(t.number for t in trials) == sorted(t.number for t in baselines) == list(range(3))


def test_pruner_prunes_trials_that_fall_behind_but_never_the_baseline(tmp_path, cli):
    spec = write_spec(
        tmp_path,
        epochs=6,
        trials=14,
        search={
            "temperature": {"low": 1.0, "high": 20.0, "log": True},
            "kd_weight": {"low": 0.0, "high": 1.0},
            "lr": {"low": 1.0e-5, "high": 1.0e-1, "log": True},
        },
        baseline_lrs=[1.0e-5],
        sampler={"name": "random"},
        pruner={"name": "median", "warmup_epochs": 1, "startup_trials": 2},
    )
    assert cli("run", spec, "--storage", _url(tmp_path), "-q").exit_code == 0
    trials = _load(tmp_path).get_trials()
    baseline = _load(tmp_path, "tiny:baseline").trials[0]
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    assert pruned, "a median pruner over lr down to 1e-5 should prune something"
    for t in pruned:
        assert 1 < t.user_attrs["epochs_run"] < 6
        assert t.user_attrs["epochs_run"] == len(t.intermediate_values)
    assert baseline.user_attrs["baseline"] and baseline.state == TrialState.COMPLETE


def test_export_then_train_reproduces_the_exported_accuracy(tmp_path, cli):
    spec = write_spec(tmp_path)
    assert cli("run", spec, "--storage", _url(tmp_path), "-q").exit_code == 0
    best_file = tmp_path / "best.yaml"
    result = cli("export", "--study", "tiny", "--storage", _url(tmp_path), "--out", best_file, "--top-k", "3")
    assert result.exit_code == 0, result.output
    exported = yaml.safe_load(best_file.read_text())
    study = _load(tmp_path)
    verdict = exported["verdict"]
    source = study.trials[exported["trial"]]  # the verified config: the best mean val over the seeds
    assert verdict["distilled"]["trial"] == source.number and verdict["seeds"] == [1, 2]
    assert exported["value"] == source.value and exported["params"] == source.params
    assert source.params["kd_weight"] > 0 and not source.user_attrs.get("baseline")
    assert set(exported["params"]) >= {"temperature", "kd_weight", "lr"}
    assert exported["task"] == "digits" and exported["epochs"] == 4 and exported["seed"] == 0
    assert exported["teacher"]["key"] == study.user_attrs["teacher_key"]
    assert {"tempopt", "optuna", "torch"} <= set(exported["versions"])
    assert len(exported["top"]) == 3
    assert exported["top"][0]["value"] >= exported["top"][1]["value"] >= exported["top"][2]["value"]

    out = tmp_path / "run"
    result = cli("train", best_file, "--out", out)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert abs(metrics["final_accuracy"] - exported["value"]) < 1e-9  # same seed, same CPU
    assert metrics["seed"] == 0 and metrics["val_accuracy"] == metrics["final_accuracy"]
    state = __import__("torch").load(out / "student.pt", weights_only=True)
    assert any(k.endswith("weight") for k in state)

    for i, seed in enumerate(verdict["seeds"]):  # --seed S: exactly the replicate verification ran
        out = tmp_path / f"seed{seed}"
        result = cli("train", best_file, "--out", out, "--seed", seed)
        assert result.exit_code == 0, result.output
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["seed"] == seed and metrics["test_split"] == "test"
        assert metrics["val_accuracy"] == verdict["distilled"]["val"][i]
        assert metrics["test_accuracy"] == verdict["distilled"]["test"][i]
        assert "difference +0.0000" in result.output


def test_export_json_and_never_the_password(tmp_path, cli):
    spec = write_spec(tmp_path, trials=2)
    assert cli("run", spec, "--storage", _url(tmp_path), "-q").exit_code == 0
    from tempopt.export import export_best

    data = export_best(_load(tmp_path), "postgresql://alice:s3cret@db.example/tempopt")
    assert "s3cret" not in json.dumps(data)
    assert data["storage"].startswith("postgresql") and "***" in data["storage"]
    out = tmp_path / "best.json"
    assert cli("export", "--study", "tiny", "--storage", _url(tmp_path), "--out", out).exit_code == 0
    assert json.loads(out.read_text())["tempopt_export"] == 1


def test_status_lists_states_and_best(tmp_path, cli):
    spec = write_spec(tmp_path, trials=3)
    assert cli("run", spec, "--storage", _url(tmp_path), "-q").exit_code == 0
    result = cli("status", "--storage", _url(tmp_path), "--study", "tiny")
    assert result.exit_code == 0
    assert "finished 3 of 3" in result.output
    assert re.search(r"best config, trial #\d+, verified: [\d.]+ \(search, seed 0, val\)", result.output)
    assert "verdict: " in result.output and "verification" in result.output
    listing = cli("status", "--storage", _url(tmp_path))
    assert "tiny" in listing.output


def test_unknown_study_is_one_sentence_and_exit_3(tmp_path, cli):
    spec = write_spec(tmp_path, trials=1)
    assert cli("run", spec, "--storage", _url(tmp_path), "-q").exit_code == 0
    result = cli("export", "--study", "nope", "--storage", _url(tmp_path))
    assert result.exit_code == 3
    assert "no study named 'nope'" in result.output and "tiny" in result.output


def test_optuna_cli_reads_the_study(tmp_path, cli):
    spec = write_spec(tmp_path, trials=4, verify={"seeds": 0})
    assert cli("run", spec, "--storage", _url(tmp_path), "-q").exit_code == 0

    def rows(name: str) -> list[dict]:
        optuna_cli = str(Path(sys.executable).parent / "optuna")
        command = [optuna_cli, "trials", "--study-name", name, "--storage", _url(tmp_path), "-f", "json"]
        return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)

    search, baselines = rows("tiny"), rows("tiny:baseline")
    assert len(search) == len(baselines) == 2
    assert all(set(r["params"]) == {"temperature", "kd_weight", "lr"} for r in search)
    assert all(set(r["params"]) == {"lr"} for r in baselines)  # what the student alone used, nothing else


def test_a_changed_search_space_is_refused_on_resume(tmp_path, cli):
    spec = write_spec(tmp_path, trials=1)
    assert cli("run", spec, "--storage", _url(tmp_path), "-q").exit_code == 0
    changed = write_spec(
        tmp_path,
        "changed.yaml",
        trials=2,
        search={
            "temperature": {"low": 2.0, "high": 20.0, "log": True},
            "kd_weight": {"low": 0.0, "high": 1.0},
            "lr": {"low": 1.0e-4, "high": 1.0e-1, "log": True},
        },
    )
    result = cli("run", changed, "--storage", _url(tmp_path), "-q")
    assert result.exit_code == 2
    assert "different 'search'" in result.output
    assert len(_load(tmp_path).get_trials()) == 1


def test_best_checkpoints_are_trial_artifacts_that_reproduce_the_value(tmp_path, cli):
    import optuna.artifacts
    import torch

    from tempopt.distill import evaluate
    from tempopt.distill.data import BatchSource
    from tempopt.tasks import load_task

    artifacts = tmp_path / "artifacts"
    spec = write_spec(tmp_path, trials=5, artifacts=str(artifacts), verify={"seeds": 0})
    assert cli("run", spec, "--storage", _url(tmp_path), "-q").exit_code == 0
    study = _load(tmp_path)
    best = study.best_trial
    metas = optuna.artifacts.get_all_artifact_meta(best, storage=study._storage)
    assert [m.filename for m in metas] == [f"student-trial-{best.number}.pt"]
    for t in study.get_trials(states=(TrialState.COMPLETE,)):  # only improvements are kept
        if t.value < best.value and t.number > best.number:
            assert not optuna.artifacts.get_all_artifact_meta(t, storage=study._storage)

    path = tmp_path / "student.pt"
    optuna.artifacts.download_artifact(
        artifact_store=optuna.artifacts.FileSystemArtifactStore(str(artifacts)),
        file_path=str(path),
        artifact_id=metas[0].artifact_id,
    )
    task = load_task("digits", study.user_attrs["spec"]["task_args"])
    student = task.student()
    student.load_state_dict(torch.load(path, weights_only=True))
    assert evaluate(student, BatchSource(task.val, 1024, torch.device("cpu"))) == best.value

    out = tmp_path / "best.yaml"
    assert cli("export", "--study", "tiny", "--storage", _url(tmp_path), "--out", out).exit_code == 0
    assert yaml.safe_load(out.read_text())["checkpoint"]["artifact_id"] == metas[0].artifact_id


def test_a_trial_that_learns_nothing_is_flagged_at_chance_in_its_attrs_and_the_report(tmp_path, cli):
    spec = write_spec(
        tmp_path,
        trials=3,
        verify={"seeds": 0},
        search={
            "temperature": {"low": 1.0, "high": 20.0, "log": True},
            "kd_weight": {"low": 0.0, "high": 1.0},
            "lr": {"choices": [1.0e3, 1.0e-2]},
        },
    )
    assert cli("run", spec, "--storage", _url(tmp_path), "-q").exit_code == 0
    trials = _load(tmp_path).get_trials(states=(TrialState.COMPLETE,))
    flagged = {t.number for t in trials if t.user_attrs.get("at_chance")}
    assert flagged == {t.number for t in trials if t.params["lr"] == 1.0e3} != set()
    assert all(t.value < 0.25 for t in trials if t.number in flagged)
    assert (
        cli(
            "report", "--study", "tiny", "--storage", _url(tmp_path), "--out", tmp_path / "r", "--bootstrap", "0"
        ).exit_code
        == 0
    )
    text = (tmp_path / "r" / "report.md").read_text()
    assert f"{len(flagged)} trial" in text and "never beat chance level" in text


CHANGED = [
    ("optimizer", {"optimizer": "sgd"}),
    ("schedule", {"schedule": "constant"}),
    ("weight_decay", {"weight_decay": 0.01}),
    ("teacher", {"teacher": {"epochs": 150, "lr": 0.01}}),
    ("teacher", {"teacher": {"epochs": 200, "lr": 0.01, "seed": 3}}),
    ("baseline_lrs", {"baseline_lrs": [2.0e-2]}),
    ("baseline_share", {"baseline_share": 0.5}),
    ("verify", {"verify": {"top_k": 1, "seeds": 2}}),
    ("seed", {"seed": 1}),
]


@pytest.mark.parametrize("key, change", CHANGED, ids=[f"{k}-{i}" for i, (k, _) in enumerate(CHANGED)])
def test_resuming_with_anything_that_changes_what_a_trial_computes_is_refused(tmp_path, cli, key, change):
    first = write_spec(tmp_path, trials=1, verify={"seeds": 0})
    assert cli("run", first, "--storage", _url(tmp_path), "-q").exit_code == 0
    changed = write_spec(tmp_path, "changed.yaml", trials=2, **{"verify": {"seeds": 0}, **change})
    result = cli("run", changed, "--storage", _url(tmp_path), "-q")
    assert result.exit_code == 2 and f"already exists with a different {key!r}" in result.output
    assert len(_load(tmp_path).get_trials()) == 1


def test_how_a_study_runs_may_change_on_resume(tmp_path, cli):
    first = write_spec(tmp_path, trials=1, verify={"seeds": 0})
    assert cli("run", first, "--storage", _url(tmp_path), "-q").exit_code == 0
    changed = write_spec(
        tmp_path,
        "changed.yaml",
        trials=2,
        verify={"seeds": 0},
        cpu_threads=1,
        num_workers=0,
        device="cpu",
        failure={"heartbeat_interval": 5, "grace_period": 20, "max_retry": 1},
    )
    assert cli("run", changed, "--storage", _url(tmp_path), "-q").exit_code == 0
    assert len(all_trials(_load(tmp_path))) == 2
