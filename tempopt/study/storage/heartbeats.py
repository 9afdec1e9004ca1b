"""Keeping trials honest when workers die.

* :func:`heartbeat` records a trial's heartbeat as soon as the trial starts and then every
  interval, on a thread that survives database outages (Optuna's own thread dies on the first
  error).
* :func:`fail_dead_trials` fails stale trials (Optuna's ``fail_stale_trials``, whose retry
  callback queues them again) and also trials of workers killed before their first heartbeat,
  which Optuna never fails; every waiting worker calls it, so the last worker standing does not
  leave a killed trial RUNNING.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

import optuna
from optuna.trial import FrozenTrial, TrialState

from tempopt.study.optuna_internals import (
    count_states,
    never_beaten,
    rdb_storage,
    stale_trial_ids,
    study_id_of,
    trial_id_of,
)
from tempopt.study.storage.opening import describe_error
from tempopt.study.storage.retries import is_transient, note_outage, retrying, seconds_since_outage
from tempopt.timestamps import seconds_since

log = logging.getLogger(__name__)


@contextlib.contextmanager
def heartbeat(study: optuna.Study, trial: optuna.Trial) -> Iterator[None]:
    """Record the trial's heartbeat now and every interval until the body ends."""
    storage = rdb_storage(study)
    interval = storage.heartbeat_interval if storage is not None else None
    if storage is None or not interval:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            try:
                storage.record_heartbeat(trial_id_of(trial))
            except Exception as e:  # noqa: BLE001 - a thread must not die with a traceback
                if not is_transient(e):
                    log.warning("heartbeat of trial %d stopped: %s", trial.number, describe_error(e))
                    return
                note_outage()
                log.warning("heartbeat of trial %d not recorded (database unreachable); retrying", trial.number)

    retrying(lambda: storage.record_heartbeat(trial_id_of(trial)), "recording a heartbeat")
    thread = threading.Thread(target=beat, name=f"heartbeat-{trial.number}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def fail_dead_trials(study: optuna.Study, running: int | None = None) -> list[int]:
    """Fail RUNNING trials whose worker is gone, and let the retry callback queue them again.

    A trial is dead when its last heartbeat is older than the grace period, or when it has run
    for longer than the grace period without a single heartbeat (a worker killed right after
    asking for it). Nothing is failed within a grace period of an outage this process saw: the
    live workers' heartbeats could not be recorded meanwhile.

    Args:
        study: the study.
        running: its number of RUNNING trials, if the caller has just counted them.

    Returns:
        Numbers of the trials failed by this call.
    """
    storage = rdb_storage(study)
    if storage is None or not storage.heartbeat_interval:
        return []
    if seconds_since_outage() < _grace(storage):
        return []
    if running is None:
        running = count_states(study)[TrialState.RUNNING]  # one aggregate query
    if not running:  # the common case of a lone worker
        return []
    dead = set(stale_trial_ids(storage, study_id_of(study)))
    dead |= _never_beaten(storage, study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
    callback = storage.get_heartbeat_stale_trial_callback()
    failed = []
    for trial_id in sorted(dead):
        try:
            if not storage.set_trial_state_values(trial_id, state=TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:  # failed by another worker meanwhile
            continue
        frozen = storage.get_trial(trial_id)
        log.warning("trial %d was failed: its worker stopped sending heartbeats", frozen.number)
        failed.append(frozen.number)
        if callback is not None:
            callback(study, frozen)
    return failed


def _never_beaten(storage: optuna.storages.RDBStorage, running: list[FrozenTrial]) -> set[int]:
    """Ids of the trials RUNNING for longer than the grace period without a single heartbeat."""
    grace = _grace(storage)
    return never_beaten(
        storage,
        {trial_id_of(t) for t in running if t.datetime_start is not None and seconds_since(t.datetime_start) > grace},
    )


def _grace(storage: optuna.storages.RDBStorage) -> float:
    return storage.grace_period or 2 * (storage.heartbeat_interval or 60)
