"""The study budget: finished (COMPLETE + PRUNED) trials across every worker, in one process.

The jobs are one-epoch digits students with ``kd_weight = 0`` (no teacher needed), stored in a
SQLite file with 1 s heartbeats, so a test runs in about a second.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from tempopt.errors import TempoptError
from tempopt.stopping import StopFlag
from tempopt.study.spec.host import load_spec_task
from tempopt.study.spec.model import StudySpec, parse_spec
from tempopt.study.storage.heartbeats import fail_dead_trials
from tempopt.study.storage.opening import FailureHandling, open_storage
from tempopt.study.stored import all_trials
from tempopt.study.workers.creation import create_or_resume
from tempopt.study.workers.search_worker import RunHooks, SearchWorker, _surplus, run_worker, state_counts
from tempopt.tasks import Task

GRACE = 2
pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")


def make_spec(trials: int = 4, baseline: bool = True) -> StudySpec:
    return parse_spec(
        {
            "name": "budget",
            "task": "digits",
            "task_args": {"labelled": 100, "student_hidden": 8},
            "epochs": 1,
            "trials": trials,
            "search": {
                "temperature": {"low": 1.0, "high": 4.0},
                "kd_weight": {"choices": [0.0]},  # the student alone: no teacher to prepare
                "lr": {"low": 1.0e-3, "high": 1.0e-1, "log": True},
            },
            "device": "cpu",
            "baseline": baseline,
            "baseline_lrs": [1.0e-2],
            "sampler": {"name": "random"},
            "pruner": {"name": "none"},
        }
    )


@pytest.fixture
def storage(tmp_path: Path) -> optuna.storages.RDBStorage:
    return open_storage(f"sqlite:///{tmp_path / 'budget.db'}", FailureHandling(1, GRACE, 3))


@pytest.fixture
def task() -> Task:
    return load_spec_task(make_spec())


def finished(study: optuna.Study) -> int:
    counts = state_counts(study)
    return counts["COMPLETE"] + counts["PRUNED"]


def failing_first(task: Task, n: int) -> Task:
    """The task, whose first ``n`` students cannot be built (so their trials fail)."""
    build: Callable = task.student
    calls = {"n": 0}

    def student():
        calls["n"] += 1
        if calls["n"] <= n:
            raise RuntimeError(f"broken student {calls['n']}")
        return build()

    task.student = student
    return task


def test_a_worker_stops_at_the_total_and_a_resume_at_the_same_total_runs_nothing(storage, task):
    spec = make_spec(trials=3)
    study = create_or_resume(spec, storage)
    first = run_worker(study, spec, task, None, total=3)
    assert (first.ran, first.finished, finished(study)) == (3, 3, 3)
    baseline = optuna.load_study(study_name="budget:baseline", storage=storage)
    assert [t.user_attrs["baseline"] for t in baseline.trials] == [True]  # its share: 3 // 2, in its sibling
    assert all("baseline" not in t.user_attrs for t in study.trials)

    again = run_worker(create_or_resume(spec, storage), spec, task, None, total=3)
    assert again.ran == 0 and finished(study) == 3

    raised = run_worker(create_or_resume(spec, storage), spec, task, None, total=5)
    assert raised.ran == 2 and finished(study) == 5 and len(all_trials(study)) == 5
    assert len(baseline.trials) == 2  # the baseline's share grew with the total: 5 // 2


def test_failed_trials_do_not_count(storage, task):
    spec = make_spec(trials=3)
    study = create_or_resume(spec, storage)
    summary = run_worker(study, spec, failing_first(task, 2), None, total=3)
    counts = state_counts(study)
    assert counts["FAIL"] == 2 and counts["COMPLETE"] == 3
    assert summary.ran == 5
    reasons = [t.user_attrs["fail_reason"] for t in all_trials(study) if t.state == TrialState.FAIL]
    assert reasons == ["broken student 1", "broken student 2"]


def test_five_failures_in_a_row_stop_the_worker_with_the_last_reason(storage, task):
    spec = make_spec(trials=3)
    study = create_or_resume(spec, storage)
    with pytest.raises(TempoptError, match=r"5 trials in a row failed .*broken student 5"):
        run_worker(study, spec, failing_first(task, 99), None, total=3)
    assert state_counts(study)["FAIL"] == 5 and finished(study) == 0


def test_a_trial_asked_beyond_the_budget_is_surplus(storage):
    spec = make_spec(trials=2, baseline=False)
    study = create_or_resume(spec, storage)
    first, second, third = study.ask(), study.ask(), study.ask()  # three workers asking at once
    assert not _surplus(study, first, 2)
    assert not _surplus(study, second, 2)
    assert _surplus(study, third, 2)  # two trials are running ahead of it
    study.tell(first, state=TrialState.FAIL)
    assert not _surplus(study, third, 2)  # a failed trial frees its place


def test_a_worker_waits_for_running_trials_that_could_complete_the_budget(storage, task):
    spec = make_spec(trials=2, baseline=False)
    study = create_or_resume(spec, storage)
    run_worker(study, spec, task, None, total=1)
    other = study.ask()  # another worker's trial, live: it beats
    storage.record_heartbeat(other._trial_id)
    waits: list[str] = []

    def on_wait(message: str) -> None:
        waits.append(message)
        storage.record_heartbeat(other._trial_id)
        if len(waits) == 3:  # the other worker completes its trial
            study.tell(other, 0.5)

    summary = run_worker(study, spec, task, None, total=2, hooks=RunHooks(on_wait=on_wait), poll_seconds=0.05)
    assert summary.ran == 0 and finished(study) == 2  # it waited, then found the budget met
    assert waits[0] == "waiting for 1 running trial(s) of other workers"


@pytest.mark.parametrize("beaten", [True, False], ids=["stale heartbeat", "killed before its first heartbeat"])
def test_the_last_worker_fails_a_dead_workers_trial_and_runs_its_retry(storage, task, beaten):
    spec = make_spec(trials=2, baseline=False)
    study = create_or_resume(spec, storage)
    run_worker(study, spec, task, None, total=1)
    dead = study.ask({"temperature": optuna.distributions.FloatDistribution(1.0, 4.0)})
    if beaten:
        storage.record_heartbeat(dead._trial_id)

    summary = run_worker(study, spec, task, None, total=2, poll_seconds=0.1)  # waits out the grace period

    trials = study.trials
    assert trials[dead.number].state == TrialState.FAIL
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == dead.number]
    assert len(retries) == 1
    assert retries[0].state == TrialState.COMPLETE
    assert retries[0].params["temperature"] == dead.params["temperature"]  # the same params again
    assert summary.ran == 1 and finished(study) == 2


def test_a_live_trial_is_not_failed(storage):
    study = create_or_resume(make_spec(baseline=False), storage)
    live = study.ask()
    storage.record_heartbeat(live._trial_id)
    young = study.ask()  # asked a moment ago, no heartbeat yet
    assert fail_dead_trials(study) == []
    assert {t.state for t in study.trials} == {TrialState.RUNNING}
    assert young.number == 1


def test_a_queued_trial_goes_first_and_fresh_ones_do_not_read_the_queue(storage, task):
    spec = make_spec(trials=3, baseline=False)
    study = create_or_resume(spec, storage)
    run_worker(study, spec, task, None, total=1)  # an empty queue: a fresh trial
    study.enqueue_trial({"temperature": 2.5, "kd_weight": 0.0, "lr": 0.05})  # e.g. a dead worker's retry
    run_worker(study, spec, task, None, total=3)
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
    assert trials[1].params["temperature"] == 2.5 and trials[2].params["temperature"] != 2.5


def test_a_pool_worker_s_search_runs_again_when_the_total_is_raised(storage, task):
    """A pool worker keeps its SearchWorker for the study's life: a budget it saw reached is not
    reached for a larger total (``tempopt submit --trials`` raised)."""
    spec = make_spec(trials=3)
    worker = SearchWorker(create_or_resume(spec, storage), spec, task, None, RunHooks())
    stop = StopFlag()
    while worker.step(3, stop) != "done":
        pass
    assert worker.step(5, stop) == "ran"
    while worker.step(5, stop) != "done":
        pass
    assert finished(worker.study) == 5 and worker.ran == 5
