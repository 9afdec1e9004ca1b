"""A study with a replayable augmentation builds the teacher's view bank once and records it."""

from __future__ import annotations

import optuna

from tempopt.tasks import load_task

from .conftest import write_spec


def test_a_study_with_augment_builds_the_bank_once_and_records_it(tmp_path, cli):
    path = write_spec(tmp_path, augment={"shift": 1}, trials=2, verify={"top_k": 1, "seeds": 0})
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    first = cli("run", path, "--storage", url)
    assert first.exit_code == 0, first.output
    assert "building the teacher's view bank" in first.output and "teacher view bank: 4 views" in first.output
    study = optuna.load_study(study_name="tiny", storage=url)
    task = load_task("digits", study.user_attrs["spec"]["task_args"])
    banks = list((tmp_path / "cache").glob("views-digits-*.pt"))
    assert len(banks) == 1
    assert study.user_attrs["teacher_views"] == 4  # the study's epochs
    examples = len(task.train) + len(task.transfer)  # every view of every labelled and transfer example
    assert study.user_attrs["teacher_views_bytes"] == 4 * examples * 10 * 2  # float16
    again = cli("run", path, "--storage", url, "--trials", "3")
    assert again.exit_code == 0, again.output
    assert "building the teacher's view bank" not in again.output and "(cache)" in again.output
    assert len(list((tmp_path / "cache").glob("views-digits-*.pt"))) == 1


def test_teacher_views_0_runs_the_teacher_live_and_builds_no_bank(tmp_path, cli):
    path = write_spec(tmp_path, augment={"shift": 1}, teacher={"epochs": 50, "lr": 0.01, "views": 0}, trials=2)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    result = cli("run", path, "--storage", url)
    assert result.exit_code == 0, result.output
    assert "view bank" not in result.output
    assert not list((tmp_path / "cache").glob("views-*.pt"))
    assert optuna.load_study(study_name="tiny", storage=url).user_attrs["teacher_views"] == 0
