"""A queued trial is started by exactly one worker, also on SQLite (where FOR UPDATE is a no-op)."""

from __future__ import annotations

import threading

import optuna
import pytest
from optuna.trial import TrialState

from tempopt.study.optuna_internals import AtomicClaimStorage, claim_waiting

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _race(url: str, storage_class, n_trials: int = 120, n_workers: int = 4) -> list[int]:
    setup = storage_class(url, engine_kwargs={"connect_args": {"timeout": 60}})
    study = optuna.create_study(study_name="race", storage=setup)
    for i in range(n_trials):
        study.enqueue_trial({"x": float(i)})
    claimed: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(n_workers)

    def worker() -> None:
        storage = storage_class(url, engine_kwargs={"connect_args": {"timeout": 60}})
        mine = optuna.load_study(study_name="race", storage=storage)
        start.wait()
        while (trial := claim_waiting(mine)) is not None:
            with lock:
                claimed.append(trial.number)

    threads = [threading.Thread(target=worker) for _ in range(n_workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return claimed


@pytest.mark.parametrize("rounds", [3])
def test_every_queued_trial_is_started_exactly_once_on_sqlite(tmp_path, rounds):
    for r in range(rounds):
        url = f"sqlite:///{tmp_path / f'race{r}.db'}"
        claimed = _race(url, AtomicClaimStorage)
        assert sorted(claimed) == list(range(120)), "a queued trial was started twice, or never"
        states = {t.state for t in optuna.load_study(study_name="race", storage=url).trials}
        assert states == {TrialState.RUNNING}


def test_a_claimed_or_finished_trial_is_not_claimed_again(tmp_path):
    storage = AtomicClaimStorage(f"sqlite:///{tmp_path / 'one.db'}")
    study = optuna.create_study(study_name="one", storage=storage)
    study.enqueue_trial({"x": 1.0})
    trial_id = study.trials[0]._trial_id
    assert storage.set_trial_state_values(trial_id, TrialState.RUNNING) is True
    assert storage.set_trial_state_values(trial_id, TrialState.RUNNING) is False
    storage.set_trial_state_values(trial_id, TrialState.COMPLETE, [1.0])
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        storage.set_trial_state_values(trial_id, TrialState.RUNNING)
