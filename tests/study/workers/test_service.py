"""Submitted studies: their records, the states they show, and which one a free worker serves."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import FloatDistribution

from tempopt.errors import StateError, TempoptError
from tempopt.study.workers.scheduler import candidates, pick
from tempopt.study.workers.service import budget, change_state, progress_of, record, request_state, set_total, submit


def _study(
    storage, name: str, priority: int, total: int = 4, finished: int = 0, running: int = 0, seeds: int = 0
) -> optuna.Study:
    study = optuna.create_study(storage=storage, study_name=name, direction="maximize")
    study.set_user_attr("spec", {"verify": {"seeds": seeds}})
    for _ in range(finished):
        study.add_trial(
            optuna.trial.create_trial(
                value=0.5, params={"lr": 0.01}, distributions={"lr": FloatDistribution(1e-3, 1e-1)}
            )
        )
    for _ in range(running):
        study.ask()
    submit(study, total, priority)
    return study


@pytest.fixture
def storage(tmp_path):
    return optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 's.db'}")


def test_states_follow_the_record_and_the_trials(storage):
    queued, running = _study(storage, "q", 0), _study(storage, "r", 0, running=1)
    done = _study(storage, "d", 0, total=2, finished=2)
    verifying = _study(storage, "v", 0, total=2, finished=2, seeds=2)
    assert [progress_of(s).state for s in (queued, running, done, verifying)] == [
        "queued",
        "running",
        "done",
        "verifying",
    ]
    assert change_state(queued, "paused") == "open" and progress_of(queued).state == "paused"
    assert change_state(queued, "open") == "paused" and progress_of(queued).state == "queued"
    change_state(running, "cancelled")
    assert progress_of(running).state == "cancelled" and not progress_of(running).has_work
    submit(running, 4, 0)  # submitting a cancelled study again opens it
    assert progress_of(running).state == "running"


def test_strict_priority_then_fewest_running_for_the_remaining_budget(storage):
    _study(storage, "low", 1)
    _study(storage, "high-busy", 5, total=3, running=3)  # its last trials all run elsewhere: nothing to hand out
    _study(storage, "mid-a", 3, total=10, running=4)
    _study(storage, "mid-b", 3, total=10, running=1)
    assert [p.name for p in candidates(storage)] == ["mid-b", "mid-a", "low"]
    assert pick(storage, pattern="lo*") == "low"
    assert pick(storage, skip=frozenset({"mid-a", "mid-b"})) == "low"
    change_state(optuna.load_study(study_name="low", storage=storage), "paused")
    assert pick(storage, pattern="lo*") is None


def test_a_finished_search_keeps_its_place_while_verification_is_left(storage):
    _study(storage, "v", 9, total=2, finished=2, seeds=1)
    assert pick(storage) == "v"  # its verification is still to plan
    _study(storage, "w", 1)
    assert pick(storage) == "v"


def test_run_stores_its_total_and_only_submitted_studies_change_state(storage):
    plain = optuna.create_study(storage=storage, study_name="plain", direction="maximize")
    with pytest.raises(TempoptError, match="was not submitted"):
        change_state(plain, "paused")
    set_total(plain, 7)
    assert progress_of(plain).total == 7 and progress_of(plain).record["priority"] == 0
    assert plain.trials == []  # nothing else written


def test_a_finished_study_is_neither_paused_nor_resumed_nor_cancelled_by_hand(storage):
    done = _study(storage, "d", 0, total=2, finished=2)
    for to, verb in (("paused", "pause"), ("open", "resume"), ("cancelled", "cancel")):
        with pytest.raises(
            StateError,
            match=rf"study 'd' is already finished \(2 of 2 trials, verified\), so there is nothing to {verb}",
        ):
            request_state(done, to, verb)
    assert record(done)["state"] == "open" and StateError.exit_code == 2
    verifying = _study(storage, "v", 0, total=2, finished=2, seeds=2)  # its replicates are still to run
    assert request_state(verifying, "cancelled", "cancel") == "open" and progress_of(verifying).state == "cancelled"
    change_state(done, "failed", "a streak of failures")  # a worker's own change is not refused


def test_the_budget_is_the_stored_total_before_the_spec_trials(storage):
    study = _study(storage, "s", 0, total=3)
    study.set_user_attr("spec", {"trials": 6, "verify": {"seeds": 0}})
    assert budget(study) == 3 == progress_of(study).total
    plain = optuna.create_study(storage=storage, study_name="plain")
    assert budget(plain) is None
    plain.set_user_attr("spec", {"trials": 6})
    assert budget(plain) == 6
