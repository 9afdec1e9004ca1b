"""A study whose reads of all trials within one trial's sampling share one read."""

from __future__ import annotations

from collections.abc import Container

import optuna
from optuna.trial import FrozenTrial, TrialState


class _SharedReadStudy(optuna.Study):
    """The study, whose ``_get_trials`` always answers from Optuna's per-trial cache of all trials."""

    def _get_trials(
        self, deepcopy: bool = True, states: Container[TrialState] | None = None, use_cache: bool = False
    ) -> list[FrozenTrial]:
        return super()._get_trials(deepcopy=deepcopy, states=states, use_cache=True)


def new_read(study: optuna.Study) -> None:
    """Drop Optuna's cached read of all trials, so that the next read through the cache is made now.

    Call it as a trial's relative sampling begins (``infer_relative_search_space``). Optuna resets
    the cache at each ask and tell, but samples a trial's params lazily, at its first suggest: a
    batch asks K trials and then samples them one after another, and without this the later
    members would share a read made before the earlier ones had params, so that TPE's constant
    liar would not see the siblings it must lie about (every member would draw alike).
    """
    study._thread_local.cached_all_trials = None  # noqa: SLF001


def shared_read(study: optuna.Study) -> optuna.Study:
    """``study`` for a sampler's ``sample_relative``: its read of every trial is the one made for
    the same trial moments before (``infer_relative_search_space`` reads through Optuna's cache,
    made new for the trial by :func:`new_read`; TPE with ``constant_liar`` reads again, to see the
    running trials it lies about, which that read already holds)."""
    view = object.__new__(_SharedReadStudy)
    view.__dict__.update(study.__dict__)  # the same storage, ids and per-thread cache
    return view
