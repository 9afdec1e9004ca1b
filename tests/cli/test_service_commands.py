"""``submit``, ``worker``, ``studies``, ``status``, ``cancel``, ``pause`` and ``resume`` on one
finished study: every command gives the same figures, and none reopens or cancels it."""

from __future__ import annotations

import optuna
import pytest
from typer.testing import CliRunner

import tempopt.cli  # noqa: F401  (registers every command)
from tempopt.cli.app import app
from tempopt.study.workers.service import PROBLEMS, record
from tests.cli.conftest import write_spec

TOTAL = 3  # --trials on submit: the file says 6


def _cli(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def _words(result) -> str:
    return " ".join(result.output.split())


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A study submitted, then submitted again with --trials 3, noted by a worker that could not serve it, then served
    to the end (search and verification) by a worker that can; and an unrelated study."""
    tmp = tmp_path_factory.mktemp("service")
    url = f"sqlite:///{tmp / 'studies.db'}"
    spec = write_spec(tmp, verify={"top_k": 1, "seeds": 1})
    assert _cli("submit", spec, "--storage", url).exit_code == 0  # stored with the file's 6 trials
    assert _cli("submit", spec, "--trials", TOTAL, "--storage", url).exit_code == 0
    study = optuna.load_study(study_name="tiny", storage=url)
    study.set_user_attr(PROBLEMS, {"elsewhere": "module 'tasks' cannot be imported"})
    result = _cli("worker", "--storage", url, "--until-done", "--max-idle", "60")
    assert result.exit_code == 0, result.output
    optuna.create_study(study_name="other", storage=url)
    return url


def test_studies_and_status_give_the_same_total(finished):
    studies = _words(_cli("studies", "--storage", finished))
    assert f"{TOTAL}/{TOTAL}" in studies and "done" in studies
    status = _words(_cli("status", "--storage", finished, "--study", "tiny"))
    assert f"finished {TOTAL} of {TOTAL}" in status


def test_the_problem_note_clears_once_a_worker_serves_the_study(finished):
    assert not optuna.load_study(study_name="tiny", storage=finished).user_attrs.get(PROBLEMS)
    assert "note:" not in _cli("studies", "--storage", finished).output


@pytest.mark.parametrize("verb", ["cancel", "pause", "resume"])
def test_a_finished_study_is_neither_cancelled_nor_paused_nor_resumed(finished, verb):
    result = _cli(verb, "tiny", "--storage", finished)
    assert result.exit_code == 2, result.output
    assert f"study 'tiny' is already finished ({TOTAL} of {TOTAL} trials, verified)" in _words(result)
    assert result.output.count("error:") == 1 and "Traceback" not in result.output
    assert record(optuna.load_study(study_name="tiny", storage=finished))["state"] == "open"


def test_status_lists_each_study_once_with_its_siblings_under_it(finished):
    assert "tiny:baseline" in optuna.get_all_study_names(finished)  # the student alone's
    lines = _cli("status", "--storage", finished).output.splitlines()
    rows = {
        name: i
        for i, line in enumerate(lines)
        for name in ("tiny", "tiny:verify-3", "tiny:baseline", "other")
        if f" {name} " in line
    }
    assert set(rows) == {"tiny", "tiny:verify-3", "tiny:baseline", "other"}, lines
    assert rows["tiny"] < rows["tiny:verify-3"] and rows["tiny"] < rows["tiny:baseline"]
    assert all("└" in lines[rows[name]] for name in ("tiny:verify-3", "tiny:baseline"))
    assert "└" not in lines[rows["tiny"]] and "└" not in lines[rows["other"]]
    verify = lines[rows["tiny:verify-3"]]
    assert (
        "2 replicates " in verify and "0." not in verify
    )  # one distilled config and the baseline, one seed  # no "best" of replicates: they are not a search
