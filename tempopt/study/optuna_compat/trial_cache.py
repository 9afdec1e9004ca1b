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


def shared_read(study: optuna.Study) -> optuna.Study:
    """``study`` for a sampler's ``sample_relative``: its read of every trial is the one Optuna
    cached moments before for the same trial (``infer_relative_search_space`` reads through that
    cache; TPE with ``constant_liar`` reads again, to see the running trials it lies about, which
    that read already holds). The cache is Optuna's, reset at each ask and tell."""
    view = object.__new__(_SharedReadStudy)
    view.__dict__.update(study.__dict__)  # the same storage, ids and per-thread cache
    return view
