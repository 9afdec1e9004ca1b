"""Views of a study for its pruner: one group of its trials, and one worker's snapshot."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Container, Sequence
from typing import Any

import optuna
from optuna.study.study import _ThreadLocalStudyAttribute
from optuna.trial import FrozenTrial, TrialState

from tempopt.study.optuna_internals.counts import RUNG_PREFIX, pruner_inputs
from tempopt.study.optuna_internals.ids import trial_id_of


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


def group_view(study: optuna.Study, member: Callable[[FrozenTrial], bool]) -> optuna.Study:
    """The study as the pruner of a trial should see it: only the trials of its group (``member``
    says which: the baselines, or the others)."""
    view = object.__new__(optuna.Study)
    view.__dict__.update(study.__dict__)
    view._storage = _FilteredStorage(  # type: ignore[assignment]
        study._storage,
        member,  # noqa: SLF001
    )
    view._thread_local = _ThreadLocalStudyAttribute()  # its own trial cache, never the real study's
    return view


class _SnapshotStorage:
    """A storage whose ``get_all_trials`` for one study answers from its last read (:meth:`read`)
    and what one worker knows since: the trials it finished, and its running ones as it runs them.
    A system attr a pruner writes (successive halving's rungs) goes to the storage and into the
    worker's running trial."""

    def __init__(self, storage: Any, study_id: int) -> None:
        self._inner = storage
        self._study_id = study_id
        self.trials: dict[int, FrozenTrial] = {}
        self.own: dict[int, FrozenTrial] = {}
        self.rungs_written = 0
        self._listed: dict[Any, list[FrozenTrial]] = {}  # by states: the sorted trials, until a change

    def read(self) -> None:
        self.trials = {t._trial_id: t for t in self._inner.get_all_trials(self._study_id, deepcopy=False)}  # noqa: SLF001
        self._listed.clear()

    def finished(self, frozen: FrozenTrial) -> None:
        self.trials[frozen._trial_id] = frozen  # noqa: SLF001
        self.own.pop(frozen._trial_id, None)  # noqa: SLF001
        self._listed.clear()

    def running(self, trial_id: int, frozen: FrozenTrial) -> None:
        """One of the worker's running trials, as it knows it (a new object for a change)."""
        self.own[trial_id] = frozen
        self._listed.clear()

    def get_all_trials(
        self, study_id: int, deepcopy: bool = True, states: Container[TrialState] | None = None
    ) -> list[FrozenTrial]:
        if study_id != self._study_id:
            return self._inner.get_all_trials(study_id, deepcopy=deepcopy, states=states)
        key = None if states is None else tuple(s for s in TrialState if s in states)
        trials = self._listed.get(key)
        if trials is None:
            every = sorted({**self.trials, **self.own}.values(), key=lambda t: t.number)
            trials = self._listed[key] = [t for t in every if states is None or t.state in states]
        return copy.deepcopy(trials) if deepcopy else list(trials)

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._inner.set_trial_system_attr(trial_id, key, value)
        self.rungs_written += key.startswith(RUNG_PREFIX)
        if trial_id in self.own:  # a new object: trials already handed out stay as they were read
            updated = copy.copy(self.own[trial_id])
            updated.system_attrs = {**updated.system_attrs, key: value}
            self.running(trial_id, updated)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class PruneView:
    """The pruner's view of a study for one worker's running trials.

    :meth:`decide` answers what ``trial.should_prune()`` would for each trial after its reports,
    from one read of the study plus what the worker itself did since: the trials it finished
    (:meth:`finished`) and its running ones, whose intermediate values come from ``values``
    (reports not yet written included) and whose system attrs written by the pruner are kept.

    The study is read again only when another worker changed what a pruner reads of other trials
    (a trial completed, a rung recorded): checked at most every ``check_seconds`` with one
    aggregate query (:func:`pruner_inputs`), or, on a storage without one (the gRPC proxy), read
    again when ``refresh_seconds`` old. So a lone worker decides exactly as Optuna would, from a
    single read, and one of many sees the others' trials at most ``check_seconds`` late.
    """

    def __init__(self, study: optuna.Study, check_seconds: float, refresh_seconds: float) -> None:
        self._study = study
        self._check = check_seconds
        self._refresh = refresh_seconds
        self._snapshot = _SnapshotStorage(study._storage, study._study_id)  # noqa: SLF001
        self._read_at: float | None = None
        self._checked_at = 0.0
        self._expected: tuple[int, int] | None = None  # pruner_inputs, at the read and after this worker's changes
        self._completed = 0  # this worker's trials completed since the read
        view = object.__new__(optuna.Study)
        view.__dict__.update(study.__dict__)
        view._storage = self._snapshot  # type: ignore[assignment]
        view._thread_local = _ThreadLocalStudyAttribute()  # its own trial cache, never the real study's
        self._view = view

    def decide(self, trials: Sequence[optuna.Trial], values: Callable[[optuna.Trial], dict[int, float]]) -> list[bool]:
        """Whether the pruner stops each of ``trials``; ``values(trial)``: its reports so far."""
        if self._stale():
            self._read()
        own = self._snapshot.own
        for trial in trials:
            trial_id = trial_id_of(trial)
            if trial_id not in own:  # the trial as this worker knows it: params and attrs it set, no lazy reads
                cached = trial._cached_frozen_trial  # noqa: SLF001
                known = copy.copy(cached)
                known.system_attrs = dict(cached.system_attrs)
                self._snapshot.running(trial_id, known)
            own[trial_id].intermediate_values = dict(values(trial))  # the same object: listed ones see it
        return [bool(self._study.pruner.prune(self._view, _asked(own[trial_id_of(t)]))) for t in trials]

    def finished(self, done: Sequence[FrozenTrial]) -> None:
        """The worker's trials that ended (as ``study.tell`` returned them): seen as they are now."""
        for frozen in done:
            self._snapshot.finished(frozen)
            self._completed += frozen.state == TrialState.COMPLETE

    def _stale(self) -> bool:
        now = time.monotonic()
        if self._read_at is None:
            return True
        if now - self._checked_at < self._check:
            return False
        self._checked_at = now
        inputs = pruner_inputs(self._study)
        if inputs is None:
            return now - self._read_at >= self._refresh
        assert self._expected is not None
        return inputs != (self._expected[0] + self._completed, self._expected[1] + self._snapshot.rungs_written)

    def _read(self) -> None:
        self._expected = pruner_inputs(self._study)  # first: a change during the read shows at the next check
        self._snapshot.read()
        self._completed = self._snapshot.rungs_written = 0
        self._read_at = self._checked_at = time.monotonic()


def _asked(own: FrozenTrial) -> FrozenTrial:
    """The trial handed to the pruner: as it stands now (a write during the decision stays out)."""
    asked = copy.copy(own)
    asked.system_attrs = dict(own.system_attrs)
    asked.intermediate_values = dict(own.intermediate_values)
    return asked
