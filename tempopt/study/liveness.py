"""Keeping trials honest when workers die or the database blips.

* :func:`heartbeat` records a trial's heartbeat as soon as the trial starts and then every
  interval, on a thread that survives database outages (Optuna's own thread dies on the first
  error).
* :func:`fail_dead_trials` fails stale trials (Optuna's ``fail_stale_trials``, whose retry
  callback queues them again) and also trials of workers killed before their first heartbeat,
  which Optuna never fails; every waiting worker calls it, so the last worker standing does not
  leave a killed trial RUNNING.
* :func:`retrying` runs a storage call again while the database is unreachable.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import TypeVar

import optuna
import sqlalchemy.exc
from optuna.trial import TrialState

from tempopt.errors import StorageError

log = logging.getLogger(__name__)
T = TypeVar("T")
TRANSIENT = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)


def _heartbeat_interval(study: optuna.Study) -> int | None:
    storage = study._storage  # noqa: SLF001
    if isinstance(storage, optuna.storages.RDBStorage):
        return storage.heartbeat_interval
    return None


@contextlib.contextmanager
def heartbeat(study: optuna.Study, trial: optuna.Trial) -> Iterator[None]:
    """Record the trial's heartbeat now and every interval until the body ends."""
    interval = _heartbeat_interval(study)
    if not interval:
        yield
        return
    storage = study._storage  # noqa: SLF001
    stop = threading.Event()

    def beat() -> None:
        while True:
            try:
                storage.record_heartbeat(trial._trial_id)  # noqa: SLF001
            except TRANSIENT as e:
                log.warning("heartbeat of trial %d not recorded (%s); retrying", trial.number, e)
            except Exception as e:  # the trial was failed meanwhile, or the storage is gone
                log.warning("heartbeat of trial %d stopped: %s", trial.number, e)
                return
            if stop.wait(interval):
                return

    retrying(lambda: storage.record_heartbeat(trial._trial_id), "recording a heartbeat")  # noqa: SLF001
    thread = threading.Thread(target=beat, name=f"heartbeat-{trial.number}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def fail_dead_trials(study: optuna.Study) -> list[int]:
    """Fail RUNNING trials whose worker is gone, and let the retry callback queue them again.

    Returns:
        Numbers of the trials failed by this call.
    """
    storage = study._storage  # noqa: SLF001
    if not isinstance(storage, optuna.storages.RDBStorage) or not storage.heartbeat_interval:
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        running = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
        if not running:
            return []
        optuna.storages.fail_stale_trials(study)
    now_failed = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
    failed = sorted(t.number for t in now_failed if t.number in running)
    failed += _fail_never_beaten(study, storage)
    for number in failed:
        log.warning("trial %d was failed: its worker stopped sending heartbeats", number)
    return failed


def _fail_never_beaten(study: optuna.Study, storage: optuna.storages.RDBStorage) -> list[int]:
    """Fail trials RUNNING for longer than the grace period without a single heartbeat."""
    from optuna.storages._rdb import models  # one private import, pinned by optuna<6

    grace = storage.grace_period or 2 * (storage.heartbeat_interval or 60)
    cutoff = datetime.datetime.now() - datetime.timedelta(seconds=grace)
    session = storage.scoped_session()
    try:
        rows = (
            session.query(models.TrialModel)
            .filter(models.TrialModel.study_id == study._study_id)  # noqa: SLF001
            .filter(models.TrialModel.state == TrialState.RUNNING)
            .filter(~models.TrialModel.heartbeats.any())
            .filter(models.TrialModel.datetime_start < cutoff)
            .all()
        )
        ids = [r.trial_id for r in rows]
    finally:
        session.close()
    callback = storage.get_heartbeat_stale_trial_callback()
    numbers = []
    for trial_id in ids:
        try:
            if not storage.set_trial_state_values(trial_id, state=TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        frozen = storage.get_trial(trial_id)
        numbers.append(frozen.number)
        if callback is not None:
            callback(study, frozen)
    return numbers


def retrying(call: Callable[[], T], what: str, patience: float = 180.0) -> T:
    """Run a storage call, again and again while the database is unreachable.

    Args:
        call: the storage operation.
        what: what it does, for the log and the error ("telling trial 3").
        patience: seconds to keep trying before giving up.

    Raises:
        StorageError: the database stayed unreachable for ``patience`` seconds.
    """
    deadline = time.monotonic() + patience
    delay = 0.5
    while True:
        try:
            return call()
        except TRANSIENT as e:
            if time.monotonic() > deadline:
                raise StorageError(
                    f"the database stayed unreachable for {patience:.0f} s while {what} "
                    f"({type(e.orig if hasattr(e, 'orig') else e).__name__}); "
                    "restart it and run the same command again to resume."
                ) from e
            log.warning("database unreachable while %s; retrying in %.1f s", what, delay)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
