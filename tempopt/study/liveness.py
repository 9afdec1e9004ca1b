"""Keeping trials honest when workers die or the database blips.

* :func:`heartbeat` records a trial's heartbeat as soon as the trial starts and then every
  interval, on a thread that survives database outages (Optuna's own thread dies on the first
  error).
* :func:`fail_dead_trials` fails stale trials (Optuna's ``fail_stale_trials``, whose retry
  callback queues them again) and also trials of workers killed before their first heartbeat,
  which Optuna never fails; every waiting worker calls it, so the last worker standing does not
  leave a killed trial RUNNING.
* :func:`retrying` runs a storage call again while the database is unreachable (not when it is
  full, read-only or forbids the call), until a stop signal.

Optuna wraps the RDB storage of a study in a cache and turns most SQLAlchemy errors raised
inside a session into ``StorageInternalError``; :func:`rdb_storage` and :func:`is_transient`
see through both.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import optuna
import sqlalchemy.exc
from optuna.trial import FrozenTrial, TrialState

from tempopt.errors import StorageError
from tempopt.study.db_faults import lasting_fault
from tempopt.study.optuna_compat import (
    count_states,
    never_beaten,
    rdb_storage,
    stale_trial_ids,
    study_id_of,
    trial_id_of,
)
from tempopt.study.stopping import Interrupted, pause
from tempopt.study.storage import describe_error
from tempopt.timestamps import seconds_since

log = logging.getLogger(__name__)
T = TypeVar("T")
TRANSIENT = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)
_last_outage = -math.inf  # time.monotonic() of the last unreachable-database error seen here


class _NoOutageFallbackWarning(logging.Filter):
    """Optuna reads any OperationalError while reading trials as "too many SQL variables" and warns
    that it falls back to a slower query. When the error is a lost connection that warning is
    wrong: the query fails again and :func:`retrying` says, in one line, that the database is
    unreachable. Drop only that case (a real "too many variables" warning stays)."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        lost = any(word in text.lower() for word in ("connection", "connect to", "server closed", "gone away"))
        return not (text.startswith("Caught an error from sqlalchemy") and lost)


logging.getLogger("optuna.storages._rdb.storage").addFilter(_NoOutageFallbackWarning())


def is_transient(error: BaseException) -> bool:
    """True if ``error`` means the database is unreachable for now (worth trying again).

    Optuna re-raises SQLAlchemy errors from inside a session as ``StorageInternalError``, and a
    lost connection often surfaces as a later SQLAlchemy error (``PendingRollbackError``) raised
    while handling it: the chain of causes is searched through such wrappers.
    """
    if lasting_fault(error) is not None:  # a full disk or a missing privilege stays so
        return False
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, TRANSIENT) or getattr(seen, "connection_invalidated", False):
            return True
        if not isinstance(seen, (optuna.exceptions.StorageInternalError, sqlalchemy.exc.SQLAlchemyError)):
            return False
        seen = seen.__cause__ or seen.__context__
    return False


def _note_outage() -> None:
    global _last_outage
    _last_outage = time.monotonic()


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
                _note_outage()
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
    if time.monotonic() - _last_outage < _grace(storage):
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


def retrying(call: Callable[[], T], what: str, patience: float = 180.0) -> T:
    """Run a storage call, again and again while the database is unreachable.

    Only what a retry can fix is retried (a lost connection, a locked database); a fault that
    stays (:func:`~tempopt.study.db_faults.lasting_fault`: a full disk, a read-only database, a
    missing privilege or missing tables) is reported at once. A stop signal ends the wait.

    Args:
        call: the storage operation.
        what: what it does, for the log and the error ("telling trial 3").
        patience: seconds to keep trying before giving up.

    Raises:
        StorageError: a lasting fault, or the database stayed unreachable for ``patience`` seconds.
        Interrupted: SIGINT or SIGTERM arrived while waiting for the database.
    """
    deadline = time.monotonic() + patience
    delay = 0.5
    while True:
        try:
            return call()
        except (*TRANSIENT, optuna.exceptions.StorageInternalError) as e:
            fault = lasting_fault(e)
            if fault is not None:
                raise StorageError(f"{fault.cause} while {what} ({describe_error(e)}); {fault.fix}.") from e
            if not is_transient(e):
                raise
            _note_outage()
            if time.monotonic() > deadline:
                raise StorageError(
                    f"the database stayed unreachable for {patience:.0f} s while {what} "
                    f"({describe_error(e)}); restart it and run the same command again to resume."
                ) from e
            log.warning("database unreachable while %s (%s); retrying in %.1f s", what, describe_error(e), delay)
            signum = pause(delay)
            if signum is not None:
                raise Interrupted(signum, f"while {what} (the database was unreachable)") from e
            delay = min(delay * 2, 10.0)
