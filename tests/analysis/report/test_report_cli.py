"""``tempopt report`` end to end through the typer app, on a SQLite study."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import optuna
import pytest
from typer.testing import CliRunner

import tempopt.cli  # noqa: F401  registers every command on the app
from tempopt.cli.app import app
from tests.analysis.studies import add_verification, make_study, temperature_times_kd

runner = CliRunner()
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*\\?["'`]?\s*(?:https?:)?//""", re.IGNORECASE)


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> tuple[str, optuna.Study]:
    path = tmp_path_factory.mktemp("db") / "tempopt.db"
    url = f"sqlite:///{path}"
    study = make_study(temperature_times_kd, 40, pruned=6, storage=url, name="kd")
    add_verification(study, [0.95, 0.93, 0.92], 0.88)
    return url, study


@pytest.fixture(scope="module")
def report(stored, tmp_path_factory) -> tuple[Path, Path, str]:
    url, _ = stored
    out = tmp_path_factory.mktemp("report")
    artifacts = tmp_path_factory.mktemp("artifacts")
    result = runner.invoke(
        app,
        [
            "report",
            "--study",
            "kd",
            "--storage",
            url,
            "--out",
            str(out),
            "--bootstrap",
            "3",
            "--artifacts",
            str(artifacts),
        ],
    )
    assert result.exit_code == 0, result.output
    return out, artifacts, result.output


class _Attributes(HTMLParser):
    """Every src/href attribute of the page's tags (script bodies are not tags)."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.links += [v or "" for k, v in attrs if k in ("src", "href")]


def test_report_writes_the_four_files(report):
    out, _, output = report
    assert {p.name for p in out.iterdir()} == {"report.html", "report.md", "importance.json", "verdict.json"}
    assert f"wrote {out / 'report.html'}" in output and f"wrote {out / 'verdict.json'}" in output


def test_importance_json_has_every_evaluator_normalised_with_stability(report):
    data = json.loads((report[0] / "importance.json").read_text())
    assert set(data["importances"]) == {"ped_anova", "fanova", "mdi"}
    for name, importances in data["importances"].items():
        assert set(importances) == {"temperature", "kd_weight", "lr"}
        assert sum(importances.values()) == pytest.approx(1.0), name
        assert set(data["stability"][name]["params"]) == set(importances)
    assert data["n_trials"] == 40 and data["n_pruned_excluded"] == 6 and data["n_bootstrap"] == 3
    assert set(data["agreement"]) == {"ped_anova~fanova", "ped_anova~mdi", "fanova~mdi"}


def test_html_opens_offline(report):
    page = (report[0] / "report.html").read_text()
    assert EXTERNAL.search(page) is None
    parser = _Attributes()
    parser.feed(page)
    assert all(not re.match(r"(https?:)?//", link) for link in parser.links), parser.links
    assert page.count("window.PlotlyConfig") == 1  # plotly.js inlined exactly once
    for key in ("history", "importances", "temperature", "slices", "contour", "intermediate", "timeline", "parallel"):
        assert f'id="fig-{key}"' in page, key


def test_verdict_json_has_the_documented_fields_and_matches_the_markdown_and_the_output(stored, report):
    url, _ = stored
    out, _, output = report
    data = json.loads((out / "verdict.json").read_text())
    assert data["split"] == "test" and data["seeds"] == [1, 2, 3] and data["verdict"] == "helped"
    gain = data["gain"]
    assert set(gain) == {"mean", "low", "high"} and 0 < gain["low"] < gain["high"]
    assert set(data["distilled"]["params"]) == {"temperature", "kd_weight", "lr"}
    assert set(data["baseline"]["params"]) == {"lr"}  # the student alone's: no temperature, no kd_weight
    for side in ("distilled", "baseline"):
        assert len(data[side]["val"]) == len(data[side]["test"]) == 3
    assert set(data["baseline_search"]) == {"trials", "best_lr", "lr_at_edge"}
    assert gain["mean"] == pytest.approx(sum(data["distilled"]["test"]) / 3 - sum(data["baseline"]["test"]) / 3)
    text = (out / "report.md").read_text()
    assert f"**{data['summary']}**" in text and data["summary"] in " ".join(output.split())
    assert f"- gain: {gain['mean']:+.4f} [{gain['low']:+.4f}, {gain['high']:+.4f}]" in text
    assert "## What to try next" in text


def test_report_attaches_the_html_as_an_artifact(stored, report):
    url, _ = stored
    out, artifacts, _ = report
    study = optuna.load_study(study_name="kd", storage=url)
    metas = optuna.artifacts.get_all_artifact_meta(study)
    assert [m.filename for m in metas] == ["report.html"]
    stored_copy = artifacts / metas[0].artifact_id
    assert stored_copy.read_bytes() == (out / "report.html").read_bytes()


def test_report_never_writes_trials(stored, report):
    url, study = stored
    after = optuna.load_study(study_name="kd", storage=url).trials
    assert [(t.number, t.state, t.value) for t in after] == [(t.number, t.state, t.value) for t in study.trials]


def test_unknown_study_is_one_sentence_and_exit_code_3(stored, tmp_path):
    url, _ = stored
    result = runner.invoke(app, ["report", "--study", "nope", "--storage", url, "--out", str(tmp_path)])
    assert result.exit_code == 3
    message = result.output.strip()
    assert message.startswith("error: no study named 'nope'") and "kd" in message
    assert "\n" not in message and message.endswith(".")
    assert not any(tmp_path.iterdir())


def test_missing_sqlite_file_is_not_created(tmp_path):
    db = tmp_path / "absent.db"
    result = runner.invoke(
        app, ["report", "--study", "kd", "--storage", f"sqlite:///{db}", "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 3
    assert "there is no study database" in result.output
    assert not db.exists()


def test_an_out_path_that_is_a_file_is_one_error(stored, tmp_path):
    url, _ = stored
    target = tmp_path / "taken"
    target.write_text("")
    result = runner.invoke(app, ["report", "--study", "kd", "--storage", url, "--out", str(target), "--bootstrap", "0"])
    assert result.exit_code == 2
    assert f"--out '{target}' is a file; give a folder for report's files." in result.output
