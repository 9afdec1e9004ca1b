"""One best config across the commands: ``run``, ``status``, ``studies``, ``export``, the report
and ``verdict.json`` name the same trial, say whether it is verified, and label every figure;
every study tempopt makes names its values for the dashboard."""

from __future__ import annotations

import json
import re

import optuna
import pytest
import yaml
from typer.testing import CliRunner

import tempopt.study.workers.creation as creation
from tempopt.cli.app import app
from tempopt.study.workers.service import submit
from tests.analysis.studies import add_verification, make_study, temperature_times_kd
from tests.cli.conftest import write_spec

BEST = re.compile(r"trial #(\d+), (verified|unverified): ")


def _invoke(*args) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "250"}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def _named(text: str) -> set[tuple[int, str]]:
    return {(int(n), status) for n, status in BEST.findall(text)}


def _everywhere(url: str, name: str, folder) -> dict[str, object]:
    """The best trial, and whether it is verified, as every reading command and file names it."""
    best_file, report = folder / "best.yaml", folder / "report"
    export = _invoke("export", "--study", name, "--storage", url, "--out", best_file)
    _invoke("report", "--study", name, "--storage", url, "--out", report, "--bootstrap", "0")
    exported = yaml.safe_load(best_file.read_text())
    return {
        "status": _named(_invoke("status", "--storage", url, "--study", name)),
        "status listing": _named(_invoke("status", "--storage", url)),
        "studies": _named(_invoke("studies", "--storage", url)),
        "export": _named(export),
        "export file": {(exported["trial"], "verified" if exported["best"]["verified"] else "unverified")},
        "report.md": _named((report / "report.md").read_text().replace("Trial #", "trial #")),
        "verdict.json": json.loads((report / "verdict.json").read_text())["distilled"]["trial"],
    }


@pytest.fixture(scope="module")
def verified_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    url = f"sqlite:///{tmp / 'studies.db'}"
    return tmp, url, _invoke("run", write_spec(tmp), "--storage", url, "-q")


def test_after_verification_every_command_names_the_verdict_s_distilled_config(verified_run, tmp_path):
    _, url, output = verified_run
    ((trial, status),) = _named(output)
    seen = _everywhere(url, "tiny", tmp_path)
    assert seen.pop("verdict.json") == trial and status == "verified"
    assert seen == {where: {(trial, "verified")} for where in seen}
    study = optuna.load_study(study_name="tiny", storage=url)
    verdict = json.loads((tmp_path / "report" / "verdict.json").read_text())
    search = f"{study.trials[trial].value:.4f} (search, seed 0, val)"
    val = f"{sum(verdict['distilled']['val']) / 2:.4f} (mean over seeds 1, 2, val)"
    test = f"{sum(verdict['distilled']['test']) / 2:.4f} (mean over seeds 1, 2, test)"
    assert f"best config, trial #{trial}, verified: {search} · {val} · {test}" in output


def test_the_study_and_its_verification_name_their_values_for_the_dashboard(verified_run):
    _, url, _ = verified_run
    for name in ("tiny", "tiny:verify-6"):
        assert optuna.load_study(study_name=name, storage=url).metric_names == ["val_accuracy"], name


def test_a_study_made_before_metric_names_gets_them_when_resumed(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    with monkeypatch.context() as older:  # the study as an older tempopt made it
        older.setattr(creation, "name_metrics", lambda study, objectives: None)
        _invoke("run", write_spec(tmp_path, trials=1, verify={"seeds": 0}), "--storage", url, "-q")
    assert optuna.load_study(study_name="tiny", storage=url).metric_names is None
    output = _invoke("run", write_spec(tmp_path, trials=1, verify={"seeds": 0}), "--storage", url, "-q")
    assert optuna.load_study(study_name="tiny", storage=url).metric_names == ["val_accuracy"]
    assert "best config, trial #0, unverified: " in output and " (search, seed 0, val)" in output


def test_before_verification_they_say_unverified_and_after_it_all_move_to_the_verified_config(tmp_path):
    url = f"sqlite:///{tmp_path / 'synthetic.db'}"
    study = make_study(temperature_times_kd, 12, storage=url, name="kd")
    submit(study, 60, 0)
    distilled = sorted((t for t in study.trials if not t.user_attrs["baseline"]), key=lambda t: -t.value)
    seen = _everywhere(url, "kd", tmp_path / "before")
    assert seen.pop("verdict.json") == distilled[0].number  # the verdict's side: the search's best
    assert seen == {where: {(distilled[0].number, "unverified")} for where in seen}

    add_verification(study, [0.90, 0.95], 0.85)  # the search's second-best config verifies best
    seen = _everywhere(url, "kd", tmp_path / "after")
    assert seen.pop("verdict.json") == distilled[1].number
    assert seen == {where: {(distilled[1].number, "verified")} for where in seen}
