"""Views of a study for its pruner: one group of its trials, and one worker's snapshot."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Container, Sequence
from typing import Any

import optuna
from optuna.study.study import _ThreadLocalStudyAttribute
from optuna.trial import FrozenTrial, TrialState

from tempopt.study.optuna_compat.ids import trial_id_of


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
    """A storage whose ``get_all_trials`` for one study answers from its last read (:meth:`read`)
    and what one worker knows since: the trials it finished, and its running ones as it runs them.
    A system attr a pruner writes (successive halving's rungs) goes to the storage and into the
    worker's running trial."""

    def __init__(self, storage: Any, study_id: int) -> None:
        self._inner = storage
        self._study_id = study_id
        self.trials: dict[int, FrozenTrial] = {}
        self.own: dict[int, FrozenTrial] = {}

    def read(self) -> None:
        self.trials = {t._trial_id: t for t in self._inner.get_all_trials(self._study_id, deepcopy=False)}  # noqa: SLF001

    def finished(self, frozen: FrozenTrial) -> None:
        self.trials[frozen._trial_id] = frozen  # noqa: SLF001
        self.own.pop(frozen._trial_id, None)  # noqa: SLF001

    def get_all_trials(
        self, study_id: int, deepcopy: bool = True, states: Container[TrialState] | None = None
    ) -> list[FrozenTrial]:
        if study_id != self._study_id:
            return self._inner.get_all_trials(study_id, deepcopy=deepcopy, states=states)
        trials = sorted({**self.trials, **self.own}.values(), key=lambda t: t.number)
        trials = [t for t in trials if states is None or t.state in states]
        return copy.deepcopy(trials) if deepcopy else trials

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._inner.set_trial_system_attr(trial_id, key, value)
        if trial_id in self.own:  # a new object: trials already handed out stay as they were read
            updated = copy.copy(self.own[trial_id])
            updated.system_attrs = {**updated.system_attrs, key: value}
            self.own[trial_id] = updated

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class PruneView:
    """The pruner's view of a study for one worker's running trials.

    :meth:`decide` answers what ``trial.should_prune()`` would for each trial after its reports,
    from one read of the study, repeated only when it is ``refresh_seconds`` old, plus what the
    worker itself did since: the trials it finished (:meth:`finished`) and its running ones,
    whose intermediate values come from ``values`` (reports not yet written included) and whose
    system attrs written by the pruner are kept. So a lone worker decides exactly as Optuna
    would, with a read every ``refresh_seconds`` at most however many epochs, members and trials
    ask; another worker's trial that finished after the read is seen at the next read.
    """

    def __init__(self, study: optuna.Study, refresh_seconds: float) -> None:
        self._study = study
        self._refresh = refresh_seconds
        self._snapshot = _SnapshotStorage(study._storage, study._study_id)  # noqa: SLF001
        self._read_at: float | None = None
        view = object.__new__(optuna.Study)
        view.__dict__.update(study.__dict__)
        view._storage = self._snapshot  # type: ignore[assignment]
        view._thread_local = _ThreadLocalStudyAttribute()  # its own trial cache, never the real study's
        self._view = view

    def decide(self, trials: Sequence[optuna.Trial], values: Callable[[optuna.Trial], dict[int, float]]) -> list[bool]:
        """Whether the pruner stops each of ``trials``; ``values(trial)``: its reports so far."""
        now = time.monotonic()
        if self._read_at is None or now - self._read_at >= self._refresh:
            self._snapshot.read()
            self._read_at = now
        own = self._snapshot.own
        for trial in trials:
            trial_id = trial_id_of(trial)
            if trial_id not in own:  # the trial as this worker knows it: params and attrs it set, no lazy reads
                cached = trial._cached_frozen_trial  # noqa: SLF001
                own[trial_id] = copy.copy(cached)
                own[trial_id].system_attrs = dict(cached.system_attrs)
            own[trial_id].intermediate_values = dict(values(trial))
        return [bool(self._study.pruner.prune(self._view, _asked(own[trial_id_of(t)]))) for t in trials]

    def finished(self, done: Sequence[FrozenTrial]) -> None:
        """The worker's trials that ended (as ``study.tell`` returned them): seen as they are now."""
        for frozen in done:
            self._snapshot.finished(frozen)


def _asked(own: FrozenTrial) -> FrozenTrial:
    """The trial handed to the pruner: as it stands now (a write during the decision stays out)."""
    asked = copy.copy(own)
    asked.system_attrs = dict(own.system_attrs)
    asked.intermediate_values = dict(own.intermediate_values)
    return asked
