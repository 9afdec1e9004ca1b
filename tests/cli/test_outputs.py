"""Outputs never destroy inputs: ``export``, ``report`` and ``train`` write only to a new path,
an earlier output of the same command, or with ``--force``; never over a database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import optuna
import pytest
import yaml

from tests.analysis.studies import add_verification, make_study, temperature_times_kd


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> tuple[str, str]:
    path = tmp_path_factory.mktemp("db") / "tempopt.db"
    url = f"sqlite:///{path}"
    study = make_study(temperature_times_kd, 12, storage=url, name="kd")
    add_verification(study, [0.95, 0.93, 0.92], 0.88)
    optuna.create_study(study_name="plain", storage=url).optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    return url, str(path)


def _refused(result, code: int, message: str) -> None:
    assert result.exit_code == code, result.output
    assert message in " ".join(result.output.split()), result.output
    assert result.output.count("error:") == 1 and "Traceback" not in result.output


def _opens(path: str) -> list[str]:
    return [s.study_name for s in optuna.get_all_study_summaries(f"sqlite:///{path}")]


@pytest.mark.parametrize("suffix", ["", "-wal"])
@pytest.mark.parametrize("force", [False, True])
def test_export_onto_the_study_database_is_refused_and_the_database_still_opens(cli, stored, suffix, force):
    url, path = stored
    before = _opens(path)
    out = path + suffix  # a journal beside the database is as much the database as its file
    result = cli("export", "--study", "kd", "--storage", url, "--out", out, *(["--force"] if force else []))
    _refused(
        result, 2, f"--out '{out}' is a SQLite database file, which export never overwrites (not even with --force)"
    )
    assert _opens(path) == before
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_export_over_a_file_it_did_not_write_needs_force(cli, stored, tmp_path):
    url, _ = stored
    notes = tmp_path / "notes.yaml"
    notes.write_text("my: notes\n")
    _refused(
        cli("export", "--study", "kd", "--storage", url, "--out", notes),
        2,
        f"--out '{notes}' exists and was not written by tempopt export; give a new path, or add --force",
    )
    assert notes.read_text() == "my: notes\n"
    assert cli("export", "--study", "kd", "--storage", url, "--out", notes, "--force").exit_code == 0
    assert yaml.safe_load(notes.read_text())["tempopt_export"] == 1


def test_export_overwrites_its_own_earlier_export_and_leaves_no_temporary_file(cli, stored, tmp_path):
    url, _ = stored
    best = tmp_path / "best.yaml"
    assert cli("export", "--study", "kd", "--storage", url, "--out", best).output.startswith("wrote")
    again = cli("export", "--study", "kd", "--storage", url, "--out", best)
    assert again.exit_code == 0 and again.output.startswith("overwrote"), again.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.yaml"]


def test_export_into_a_path_that_cannot_be_written_is_the_environment(cli, stored, tmp_path):
    url, _ = stored
    (tmp_path / "a-file").write_text("")
    out = tmp_path / "a-file" / "best.yaml"
    _refused(cli("export", "--study", "kd", "--storage", url, "--out", out), 3, f"cannot write '{out}'")


def test_report_into_a_folder_of_other_files_needs_force(cli, stored, tmp_path):
    url, _ = stored
    (tmp_path / "notes.md").write_text("mine")
    _refused(
        cli("report", "--study", "kd", "--storage", url, "--out", tmp_path, "--bootstrap", "0"),
        2,
        f"--out '{tmp_path}' holds files that tempopt report did not write; give a new or empty folder, or add --force",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.md"]
    forced = cli("report", "--study", "kd", "--storage", url, "--out", tmp_path, "--bootstrap", "0", "--force")
    assert forced.exit_code == 0, forced.output
    assert (tmp_path / "notes.md").read_text() == "mine" and (tmp_path / "verdict.json").is_file()
    again = cli("report", "--study", "kd", "--storage", url, "--out", tmp_path, "--bootstrap", "0")
    assert again.exit_code == 0, again.output  # a report's folder (its verdict.json): written again


def test_report_never_replaces_a_database_even_with_force(cli, stored, tmp_path):
    url, path = stored
    (tmp_path / "verdict.json").write_text("{}")
    (tmp_path / "report.md").write_bytes(Path(path).read_bytes())
    _refused(
        cli("report", "--study", "kd", "--storage", url, "--out", tmp_path, "--force"),
        2,
        "holds a SQLite database 'report.md', which report never overwrites",
    )


@pytest.mark.parametrize("command", ["export", "report"])
@pytest.mark.parametrize(
    ("study", "message"),
    [
        ("kd:verify-12", "study 'kd:verify-12' is a sibling of study 'kd'"),
        ("plain", "study 'plain' was not made by tempopt (it has no 'spec' attribute)"),
    ],
)
def test_report_refuses_what_export_refuses(cli, stored, tmp_path, command, study, message):
    url, _ = stored
    _refused(cli(command, "--study", study, "--storage", url, "--out", tmp_path / "out"), 2, message)
    assert not (tmp_path / "out").exists()


def test_train_into_a_folder_of_other_files_is_refused_before_training(cli, stored, tmp_path):
    url, _ = stored
    best = tmp_path / "best.yaml"
    assert cli("export", "--study", "kd", "--storage", url, "--out", best).exit_code == 0
    data = yaml.safe_load(best.read_text())
    data["spec"]["task_args"] = {"labelled": 120}  # the synthetic study's task args are no digits task's
    best.write_text(yaml.safe_dump(data))
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "data.csv").write_text("1,2\n")
    _refused(
        cli("train", best, "--out", folder),
        2,
        f"--out '{folder}' holds files that tempopt train did not write; give a new or empty folder, or add --force",
    )
    assert sorted(p.name for p in folder.iterdir()) == ["data.csv"]
