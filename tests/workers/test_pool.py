"""``tempopt worker``: a pool of workers serving every submitted study of one database.

Three studies of different priorities (and one a worker cannot import, and one cancelled
mid-run) are submitted to one database and three workers started; one worker is SIGKILLed
mid-trial of the lowest-priority study. Every study reaches exactly its total with its
verification, nothing is left RUNNING, the higher priority finishes first, the cancelled study's
running trial ends failed with the reason, and the study the workers cannot import is marked on
the study and skipped.
"""

from __future__ import annotations

import signal
import textwrap
import time

import pytest
import yaml
from optuna.trial import TrialState
from typer.testing import CliRunner

import tempopt.cli  # noqa: F401  (registers every command)
from tempopt.cli.app import app
from tests.workers.harness import SLOW, any_running_epoch, assert_clean_log, assert_complete_study, study_dict

pytestmark = pytest.mark.integration

PRIORITIES = {"hi": 3, "mid": 2, "lo": 1}
TOTAL = 5


def _submit(harness, name: str, priority: int, **overrides) -> None:
    path = harness.tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(study_dict(name, harness.cache_dir, trials=TOTAL, **overrides), sort_keys=False))
    result = CliRunner().invoke(app, ["submit", str(path), "--priority", str(priority), "--storage", harness.url])
    assert result.exit_code == 0, result.output


def _end(trials) -> float:
    return max(t.datetime_complete.timestamp() for t in trials if t.datetime_complete is not None)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_three_workers_serve_every_study_by_priority_and_lose_nothing(harness, monkeypatch):
    slow = {"epochs": 12, "batch_size": 4}  # trials of about half a second
    for name, priority in PRIORITIES.items():
        _submit(harness, name, priority, **(SLOW if name == "lo" else slow))  # lo: a kill lands mid-trial
    _submit(harness, "doomed", 2, **slow)
    (harness.tmp / "ext").mkdir()
    (harness.tmp / "ext" / "elsewhere_task.py").write_text(
        textwrap.dedent("""
        from tempopt.tasks import load_task

        def make_task(**kwargs):
            return load_task("digits", kwargs)
    """)
    )
    monkeypatch.syspath_prepend(str(harness.tmp / "ext"))  # importable here, not in the workers
    _submit(harness, "elsewhere", 9, task="elsewhere_task:make_task")

    workers = [harness.start("worker", "--max-idle", "8", log=f"w{i}.log") for i in range(3)]
    # cancel "doomed" while one of its trials runs
    harness.wait_for(
        lambda ts: any(t.state == TrialState.RUNNING for t in ts), 120, "a running trial of doomed", study="doomed"
    )
    result = CliRunner().invoke(app, ["cancel", "doomed", "--storage", harness.url])
    assert result.exit_code == 0, result.output
    cancelled_at = time.time()
    # SIGKILL the worker running a trial of "lo" (the last study: its retry cannot reorder the others)
    trial = harness.wait_for(
        any_running_epoch,
        120,
        "a running trial of lo",
        study="lo",
    )
    pid = int(str(trial.user_attrs["worker"]).rsplit(":", 1)[1])
    victim = next(w for w in workers if w.pid == pid)
    harness.signal(victim, signal.SIGKILL)

    for w in workers:
        if w is not victim:
            assert w.wait(timeout=240) == 0, harness.log(f"w{workers.index(w)}.log")

    for name in PRIORITIES:
        trials = harness.trials(name) + harness.trials(f"{name}:baseline")
        assert_complete_study(trials, TOTAL)  # exactly its total, nothing RUNNING (a surplus trial may wait)
        verification = harness.storage.get_study_user_attrs(harness.storage.get_study_id_from_name(name))
        replicates = harness.trials(verification["verify_study"])
        assert replicates and all(t.state == TrialState.COMPLETE for t in replicates)
    ends = {
        name: _end(
            harness.trials(name)
            + harness.trials(
                harness.storage.get_study_user_attrs(harness.storage.get_study_id_from_name(name))["verify_study"]
            )
        )
        for name in PRIORITIES
    }
    assert ends["hi"] <= ends["mid"] <= ends["lo"], ends  # higher priority finished first (MariaDB: 1 s steps)

    lo = harness.trials("lo")
    dead = next(t for t in lo if t.number == trial.number)
    assert dead.state == TrialState.FAIL  # the killed worker's trial, retried with the same params
    assert any(
        t.system_attrs.get("failed_trial") == dead.number and t.state == TrialState.COMPLETE and t.params == dead.params
        for t in lo
    )

    doomed = harness.trials("doomed")
    ended = [t for t in doomed if t.state == TrialState.FAIL and "cancelled" in str(t.user_attrs.get("fail_reason"))]
    assert ended, "the running trial of the cancelled study did not end with the reason"
    assert not [t for t in doomed if t.state == TrialState.RUNNING]
    assert all(t.datetime_start.timestamp() < cancelled_at + 1 for t in doomed if t.datetime_start)
    attrs = harness.storage.get_study_user_attrs(harness.storage.get_study_id_from_name("doomed"))
    assert attrs["service"]["state"] == "cancelled"

    elsewhere = harness.storage.get_study_user_attrs(harness.storage.get_study_id_from_name("elsewhere"))
    assert "elsewhere_task" in " ".join(elsewhere["worker_problems"].values())
    assert not harness.trials("elsewhere") or all(t.state == TrialState.WAITING for t in harness.trials("elsewhere"))
    for i, w in enumerate(workers):
        if w is not victim:
            log = harness.log(f"w{i}.log")
            assert log.count("cannot serve study 'elsewhere'") == 1
            assert_clean_log(
                log.replace("WARNING tempopt.study.workers.pool_worker: worker on", "worker on"), f"w{i}.log"
            )


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_worker_on_an_empty_database_idles_then_serves_a_study_submitted_later(harness):
    worker = harness.start("worker", "--max-idle", "60", log="w.log")
    time.sleep(3)  # idle: nothing submitted yet
    assert worker.poll() is None
    _submit(harness, "late", 1)
    harness.wait_for(  # the search's share: the rest are the student alone's, in late:baseline
        lambda ts: (
            len([t for t in ts if t.state == TrialState.COMPLETE]) == TOTAL - len(harness.trials("late:baseline"))
        ),
        60,
        "the late study's trials",
        study="late",
    )
    harness.signal(worker, signal.SIGTERM)
    assert worker.wait(timeout=30) == 143  # SIGTERM, as `tempopt run` exits
    log = harness.log("w.log")
    assert "Traceback" not in log and "ran: late" in log
