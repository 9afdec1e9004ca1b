"""The few places where tempopt relies on Optuna internals, kept together and pinned by tests
(``tests/study/test_optuna_compat.py``: one test per function, against the installed Optuna).

* :func:`storage_of`, :func:`study_id_of`, :func:`trial_id_of`, :func:`rdb_storage`: a study's
  storage and ids (Optuna keeps them private), and its RDB storage under Optuna's cache.
* :func:`stale_trial_ids`, :func:`never_beaten`: running trials whose heartbeat is too old, or
  that never sent one.
* :func:`return_to_queue`: put a started trial back in the queue, unstarted.
* :func:`set_user_attrs`: several user attrs of a trial in one transaction (Optuna commits each
  ``set_user_attr`` on its own: one disk sync each on SQLite).

* :func:`group_view`: a study whose trials are one group of the real study's (distilled or
  baseline), for pruners. It is a real :class:`optuna.Study` over a storage that filters
  ``get_all_trials``, so that pruners which build studies of their own from ``study._storage``
  (Hyperband's brackets) see the same group.
* :class:`AtomicClaimStorage`: Optuna's RDB storage, whose start of a queued trial (WAITING →
  RUNNING) is one conditional UPDATE. Optuna reads the state, then writes it, relying on
  ``SELECT … FOR UPDATE``, which SQLite ignores: two SQLite workers could both start the same
  queued trial. A conditional UPDATE is atomic on every backend.
* :func:`contains`: whether a value is one a distribution could have suggested (a check of
  exported params).
* :func:`prune_decisions`: the pruner's answer for several running trials of one study from one
  read of its trials (a batch of K trials asks after every epoch; ``Trial.should_prune`` would
  read every trial of the study K times).
* :func:`claim_waiting`: start a queued trial, or None when the queue is empty, without ever
  creating a fresh trial as ``Study.ask`` does (the queue of verification work must never grow
  an unplanned, param-less trial).
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable, Container, Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.storages._rdb import models
from optuna.storages._rdb.storage import _create_scoped_session
from optuna.study.study import _ThreadLocalStudyAttribute
from optuna.trial import FrozenTrial, TrialState


def storage_of(study: optuna.Study) -> Any:
    """The storage a study object reads and writes through."""
    return study._storage  # noqa: SLF001


def study_id_of(study: optuna.Study) -> int:
    return int(study._study_id)  # noqa: SLF001


def trial_id_of(trial: optuna.Trial | FrozenTrial) -> int:
    """The storage's id of a trial (not its number)."""
    return int(trial._trial_id)  # noqa: SLF001


def rdb_storage(study: optuna.Study) -> optuna.storages.RDBStorage | None:
    """The study's RDB storage (unwrapped from Optuna's cache), or None for other storages."""
    storage = storage_of(study)
    storage = getattr(storage, "_backend", storage)  # optuna.storages._CachedStorage
    return storage if isinstance(storage, optuna.storages.RDBStorage) else None


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


def set_user_attrs(trial: optuna.Trial, attrs: dict[str, Any]) -> None:
    """``trial.set_user_attr(k, v)`` for every item, in one transaction on an RDB storage."""
    storage = rdb_storage(trial.study)
    if storage is None:  # in memory, or through the gRPC proxy: one call each
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        return
    trial_id = trial_id_of(trial)
    with _create_scoped_session(storage.scoped_session, True) as session:
        for key, value in attrs.items():
            storage._set_trial_attr_without_commit(  # noqa: SLF001
                session, models.TrialUserAttributeModel, trial_id, key, value
            )


def return_to_queue(study: optuna.Study, trial: optuna.Trial) -> None:
    """Put a started trial back in the queue (WAITING), as if it had never been started."""
    storage_of(study).set_trial_state_values(trial_id_of(trial), TrialState.WAITING)


class _FilteredStorage:
    """A storage whose ``get_all_trials`` keeps only the trials ``keep`` accepts."""

    def __init__(self, storage: Any, keep: Callable[[FrozenTrial], bool]) -> None:
        self._inner = storage
        self._keep = keep

    def get_all_trials(
        self, study_id: int, deepcopy: bool = True, states: Container[TrialState] | None = None
    ) -> list[FrozenTrial]:
        trials = self._inner.get_all_trials(study_id, deepcopy=deepcopy, states=states)
        return [t for t in trials if self._keep(t)]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class AtomicClaimStorage(optuna.storages.RDBStorage):
    """An RDB storage on which exactly one of the workers racing for a queued trial gets it."""

    def set_trial_state_values(self, trial_id: int, state: TrialState, values: Sequence[float] | None = None) -> bool:
        if state != TrialState.RUNNING or values is not None:
            return super().set_trial_state_values(trial_id, state, values)
        with _create_scoped_session(self.scoped_session) as session:
            claimed = (
                session.query(models.TrialModel)
                .filter(models.TrialModel.trial_id == trial_id, models.TrialModel.state == TrialState.WAITING)
                .update(
                    {"state": TrialState.RUNNING, "datetime_start": datetime.datetime.now()}, synchronize_session=False
                )
            )
        if claimed:
            return True
        if self.get_trial(trial_id).state.is_finished():  # what Optuna's own method raises then
            raise optuna.exceptions.UpdateFinishedTrialError(f"trial {trial_id} has already finished")
        return False  # another worker started it first


def group_view(study: optuna.Study, baseline: bool) -> optuna.Study:
    """The study as the pruner of a trial should see it: only baselines, or only the others."""
    view = object.__new__(optuna.Study)
    view.__dict__.update(study.__dict__)
    view._storage = _FilteredStorage(  # type: ignore[assignment]
        study._storage,
        lambda t: (t.user_attrs.get("baseline") is True) == baseline,  # noqa: SLF001
    )
    view._thread_local = _ThreadLocalStudyAttribute()  # its own trial cache, never the real study's
    return view


class _SnapshotStorage:
    """A storage whose ``get_all_trials`` for one study answers from a single read."""

    def __init__(self, storage: Any, study_id: int) -> None:
        self._inner = storage
        self._study_id = study_id
        self.trials = storage.get_all_trials(study_id, deepcopy=False)

    def get_all_trials(
        self, study_id: int, deepcopy: bool = True, states: Container[TrialState] | None = None
    ) -> list[FrozenTrial]:
        if study_id != self._study_id:
            return self._inner.get_all_trials(study_id, deepcopy=deepcopy, states=states)
        trials = [t for t in self.trials if states is None or t.state in states]
        return copy.deepcopy(trials) if deepcopy else trials

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def prune_decisions(study: optuna.Study, trials: Sequence[optuna.Trial]) -> list[bool]:
    """What ``trial.should_prune()`` would answer for each of ``trials``, after their reports,
    from one read of the study's trials instead of one per trial."""
    snapshot = _SnapshotStorage(study._storage, study._study_id)  # noqa: SLF001
    view = object.__new__(optuna.Study)
    view.__dict__.update(study.__dict__)
    view._storage = snapshot  # type: ignore[assignment]
    view._thread_local = _ThreadLocalStudyAttribute()
    by_id = {t._trial_id: t for t in snapshot.trials}  # noqa: SLF001
    return [bool(study.pruner.prune(view, copy.deepcopy(by_id[t._trial_id]))) for t in trials]  # noqa: SLF001


def claim_waiting(study: optuna.Study) -> optuna.Trial | None:
    """Start the first queued (WAITING) trial of ``study``; None if there is none.

    Claiming is atomic on every storage: of two workers reaching for the same queued trial,
    one gets it and the other moves on to the next one.
    """
    study._thread_local.cached_all_trials = None  # noqa: SLF001
    trial_id = study._pop_waiting_trial_id()  # noqa: SLF001
    return None if trial_id is None else optuna.Trial(study, trial_id)


def contains(distribution: BaseDistribution, value: Any) -> bool:
    """True if ``value`` is one that ``distribution`` could have suggested."""
    try:
        return bool(distribution._contains(distribution.to_internal_repr(value)))  # noqa: SLF001
    except (ValueError, TypeError):
        return False


def claim_trial(study: optuna.Study, trial: FrozenTrial) -> optuna.Trial | None:
    """Start one particular queued trial; None if another worker started it first."""
    try:
        claimed = study._storage.set_trial_state_values(trial._trial_id, TrialState.RUNNING)  # noqa: SLF001
    except optuna.exceptions.UpdateFinishedTrialError:
        return None
    study._thread_local.cached_all_trials = None  # noqa: SLF001
    return optuna.Trial(study, trial._trial_id) if claimed else None  # noqa: SLF001
