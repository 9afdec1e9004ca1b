"""Telling Optuna how a started trial ended with one read of the trial, where ``Study.tell``
reads it twice more (once to check its state, once more to return it)."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import optuna
from optuna import pruners
from optuna.study._tell import _check_values_are_feasible
from optuna.trial import FrozenTrial, TrialState

from tempopt.study.optuna_internals.ids import storage_of, trial_id_of


def tell(
    study: optuna.Study, trial: optuna.Trial, values: float | Sequence[float] | None, state: TrialState
) -> FrozenTrial:
    """``study.tell(trial, values, state=state, skip_if_finished=True)`` for a trial this worker
    started and kept (its params, attrs and reports are in ``trial``): the sampler is told, the
    state and values stored, and the trial returned as stored.

    A trial another worker has finished meanwhile is left as it is and returned as stored (its
    sampler is still told, which Optuna's samplers take as a no-op).

    Raises:
        ValueError: what ``Study.tell`` raises for the same values and state (a nan value, a
            COMPLETE state without values, values with another state).
    """
    study._thread_local.cached_all_trials = None  # noqa: SLF001  as Study.tell: the cache is only valid within a trial
    frozen = trial._cached_frozen_trial  # noqa: SLF001
    listed: list[float] | None = None
    if values is not None:
        if state != TrialState.COMPLETE:
            raise ValueError(f"values are only told with a COMPLETE state, not {state.name}.")
        listed = list(values) if isinstance(values, Sequence) else [values]
        error = _check_values_are_feasible(study, listed)
        if error is not None:
            raise ValueError(error)
        listed = [float(v) for v in listed]
    elif state == TrialState.COMPLETE:
        raise ValueError("a COMPLETE trial is told with its values.")
    elif state == TrialState.PRUNED and frozen.last_step is not None:  # its last report is its value, as Optuna's
        last = frozen.intermediate_values[frozen.last_step]
        if _check_values_are_feasible(study, [last]) is None:
            listed = [float(last)]
    storage, trial_id = storage_of(study), trial_id_of(trial)
    try:
        study.sampler.after_trial(pruners._filter_study(study, frozen), frozen, state, listed)  # noqa: SLF001
    finally:
        try:
            storage.set_trial_state_values(trial_id, state, listed)
        except optuna.exceptions.UpdateFinishedTrialError:
            pass  # finished by another worker: as skip_if_finished
    return copy.deepcopy(storage.get_trial(trial_id))
