"""Relative paths in a study file start at its folder: from any directory, on resume, and in the
pool workers that read the stored spec."""

from __future__ import annotations

import shutil

import optuna
import torch
import yaml

from tempopt.study.stored import all_trials
from tempopt.tasks import load_task
from tests.cli.conftest import tiny_spec


def _study_folder(tmp_path, name: str = "studies", **overrides):
    """``studies/paths.yaml`` with a teacher checkpoint ``t.pt``, cache and artifacts, all relative."""
    folder = tmp_path / name
    folder.mkdir()
    spec = tiny_spec(tmp_path, name="paths", trials=2, verify={"seeds": 0}, cache_dir="cache", artifacts="arts")
    spec.update(teacher={"checkpoint": "t.pt"}, **overrides)
    torch.manual_seed(0)
    torch.save(load_task("digits", spec["task_args"]).teacher().state_dict(), folder / "t.pt")
    (folder / "paths.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return folder


def _elsewhere(tmp_path, monkeypatch):
    folder = tmp_path / "elsewhere"
    folder.mkdir(exist_ok=True)
    monkeypatch.chdir(folder)
    return folder


def test_relative_paths_are_found_next_to_the_study_file_from_another_directory(tmp_path, cli, monkeypatch):
    studies = _study_folder(tmp_path)
    elsewhere = _elsewhere(tmp_path, monkeypatch)
    url = f"sqlite:///{tmp_path / 'paths.db'}"
    result = cli("run", studies / "paths.yaml", "--storage", url, "-q")
    assert result.exit_code == 0, result.output
    assert "(checkpoint)" in result.output  # the teacher came from studies/t.pt
    assert list((studies / "cache").glob("teacher-*.pt")) and list((studies / "arts").iterdir())
    assert not any(elsewhere.iterdir())  # nothing was looked for or written here

    (studies / "t.pt").rename(studies / "moved.pt")
    shutil.rmtree(studies / "cache")
    result = cli("run", studies / "paths.yaml", "--storage", url, "-q")
    assert result.exit_code == 2
    assert f"teacher.checkpoint 't.pt' was looked for at {str(studies / 't.pt')!r}, which is not a file" in " ".join(
        result.output.split()
    )


def test_a_study_begun_with_a_relative_checkpoint_in_the_working_directory_resumes(tmp_path, cli, monkeypatch):
    """Before the study file's folder counted, ``t.pt`` was looked for in the working directory,
    and a stored spec had no ``study_dir``: the same study file, run from the same directory,
    resumes it."""
    studies = _study_folder(tmp_path)
    elsewhere = _elsewhere(tmp_path, monkeypatch)
    (studies / "t.pt").rename(elsewhere / "t.pt")  # where an older tempopt found it
    url = f"sqlite:///{tmp_path / 'paths.db'}"
    assert cli("run", studies / "paths.yaml", "--storage", url, "--trials", "1", "-q").exit_code == 0
    study = optuna.load_study(study_name="paths", storage=url)
    older = {k: v for k, v in study.user_attrs["spec"].items() if k != "study_dir"}
    study.set_user_attr("spec", {**older, "cache_dir": "cache"})  # as an older tempopt stored it

    result = cli("run", studies / "paths.yaml", "--storage", url, "-q")
    assert result.exit_code == 0, result.output
    assert len(all_trials(study)) == 2  # one distilled, one baseline in its sibling
    assert "study_dir" not in study.user_attrs["spec"]  # its stored paths keep their meaning


def test_pool_workers_find_the_files_of_a_submitted_study_wherever_they_run(tmp_path, cli, monkeypatch):
    """The stored spec carries the study file's folder; a study submitted again from a moved
    folder takes the workers there."""
    first = _study_folder(tmp_path, "first")
    url = f"sqlite:///{tmp_path / 'paths.db'}"
    assert cli("submit", first / "paths.yaml", "--storage", url).exit_code == 0
    moved = first.rename(tmp_path / "moved")
    assert cli("submit", moved / "paths.yaml", "--storage", url).exit_code == 0
    study = optuna.load_study(study_name="paths", storage=url)
    assert study.user_attrs["spec"]["study_dir"] == str(moved)

    _elsewhere(tmp_path, monkeypatch)
    result = cli("worker", "--storage", url, "--studies", "paths", "--until-done")
    assert result.exit_code == 0, result.output
    assert "worker_problems" not in study.user_attrs
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in all_trials(study)) == 2
    assert list((moved / "cache").glob("teacher-*.pt"))
