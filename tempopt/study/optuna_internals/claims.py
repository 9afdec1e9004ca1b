"""Starting trials: atomically on every backend, from the queue only, or back to the queue;
and the heartbeats that tell a dead worker's trials."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import optuna
import sqlalchemy
from optuna.storages._rdb import models
from optuna.storages._rdb.storage import _create_scoped_session
from optuna.trial import FrozenTrial, TrialState

from tempopt.study.optuna_internals.fast_writes import FastWriteStorage
from tempopt.study.optuna_internals.ids import storage_of, trial_id_of
from tempopt.timestamps import utc_now

_TRIALS = models.TrialModel.__table__
# The trial's stored column itself: Optuna's ``TrialModel.datetime_start`` is a property that turns
# local time into UTC as it is set, which a bulk update by its name passes by.
_CLAIM = (
    sqlalchemy.update(_TRIALS)
    .where(_TRIALS.c.trial_id == sqlalchemy.bindparam("id"), _TRIALS.c.state == TrialState.WAITING)
    .values(state=TrialState.RUNNING, datetime_start=sqlalchemy.bindparam("start"))
)


class AtomicClaimStorage(FastWriteStorage):
    """An RDB storage on which exactly one of the workers racing for a queued trial gets it (and
    whose reads and writes of trials are :class:`FastWriteStorage`'s)."""

    def set_trial_state_values(self, trial_id: int, state: TrialState, values: Sequence[float] | None = None) -> bool:
        if state != TrialState.RUNNING or values is not None:
            return super().set_trial_state_values(trial_id, state, values)
        with _create_scoped_session(self.scoped_session) as session:
            claimed: Any = session.execute(_CLAIM, {"id": trial_id, "start": utc_now()})
        if claimed.rowcount:
            return True
        if self.get_trial(trial_id).state.is_finished():  # what Optuna's own method raises then
            raise optuna.exceptions.UpdateFinishedTrialError(f"trial {trial_id} has already finished")
        return False  # another worker started it first


def claim_waiting(study: optuna.Study) -> optuna.Trial | None:
    """Start the first queued (WAITING) trial of ``study``; None if there is none.

    Claiming is atomic on every storage: of two workers reaching for the same queued trial,
    one gets it and the other moves on to the next one.
    """
    study._thread_local.cached_all_trials = None  # noqa: SLF001
    trial_id = study._pop_waiting_trial_id()  # noqa: SLF001
    return None if trial_id is None else optuna.Trial(study, trial_id)


def claim_trial(study: optuna.Study, trial: FrozenTrial) -> optuna.Trial | None:
    """Start one particular queued trial; None if another worker started it first."""
    try:
        claimed = study._storage.set_trial_state_values(trial._trial_id, TrialState.RUNNING)  # noqa: SLF001
    except optuna.exceptions.UpdateFinishedTrialError:
        return None
    study._thread_local.cached_all_trials = None  # noqa: SLF001
    return optuna.Trial(study, trial._trial_id) if claimed else None  # noqa: SLF001


def start_new_trial(study: optuna.Study) -> optuna.Trial:
    """Start a fresh trial, as ``Study.ask()`` does when the queue is empty, without first reading
    every trial of the study to look for a queued one: for a worker that has just counted none.
    A trial queued meanwhile by another worker stays queued for the next ask."""
    study._thread_local.cached_all_trials = None  # noqa: SLF001  (as ask: the sampler reads the study anew)
    trial_id = study._storage.create_new_trial(study._study_id)  # noqa: SLF001
    return optuna.Trial(study, trial_id)


def return_to_queue(study: optuna.Study, trial: optuna.Trial) -> None:
    """Put a started trial back in the queue (WAITING), as if it had never been started."""
    storage_of(study).set_trial_state_values(trial_id_of(trial), TrialState.WAITING)


def stale_trial_ids(storage: optuna.storages.RDBStorage, study_id: int) -> list[int]:
    """Ids of the study's RUNNING trials whose last heartbeat is older than the grace period."""
    return list(storage._get_stale_trial_ids(study_id))  # noqa: SLF001


def never_beaten(storage: optuna.storages.RDBStorage, trial_ids: set[int]) -> set[int]:
    """Those of ``trial_ids`` that have no heartbeat at all."""
    if not trial_ids:
        return set()
    session = storage.scoped_session()
    try:
        beaten = session.query(models.TrialHeartbeatModel.trial_id).filter(
            models.TrialHeartbeatModel.trial_id.in_(trial_ids)
        )
        return trial_ids - {row.trial_id for row in beaten}
    finally:
        session.close()
