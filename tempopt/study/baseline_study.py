"""Where a study's baseline trials live, and how to read them (read only).

The student alone (``kd_weight = 0``) is searched in a sibling study ``NAME:baseline`` with its
own sampler and pruner, so that the search study holds only distilled trials: Optuna's
importances, the dashboard's plots and ``optuna trials`` then see no parameter a job did not use
(a baseline has no temperature, and its ``kd_weight`` is not searched). The search study names
its sibling in the user attr ``baseline_study``; the sibling names its search study (and its
storage id) and holds its budget of finished trials.

A study created before the sibling existed keeps its baseline trials (user attr ``baseline``)
among its own trials and resumes as it is: every reader here handles both layouts.
"""

from __future__ import annotations

import weakref

import optuna
from optuna.trial import FrozenTrial, TrialState

from tempopt.study.optuna_compat import count_states, storage_of

BASELINE_STUDY_ATTR = "baseline_study"
"""On the search study: the name of its baseline sibling."""
SEARCH_STUDY_ATTR = "search_study"
"""On a sibling (baseline or verification): the name of its search study."""
SEARCH_ID_ATTR = "search_study_id"
"""On a sibling: the storage id of the search study it was made for."""
BASELINE_ATTR = "baseline"
"""On a trial: True for a baseline trial (the student alone)."""
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
MIN_BASELINES = 5
"""The fewest finished baseline trials that make the student alone a fair rival (and the fewest a
study with ``baseline: true`` plans, ``trials`` permitting: never more than half of them)."""


def baseline_name(name: str) -> str:
    """The baseline sibling of study ``name``."""
    return f"{name}:baseline"


def is_baseline(trial: FrozenTrial | optuna.Trial) -> bool:
    """True for a baseline trial (user attr ``baseline``): the student alone."""
    return trial.user_attrs.get(BASELINE_ATTR) is True


def student_alone(trial: FrozenTrial | optuna.Trial) -> bool:
    """True for a trial of the student alone: a baseline trial, or a baseline's verification
    replicate (user attr ``role: baseline``)."""
    return is_baseline(trial) or trial.user_attrs.get("role") == "baseline"


def has_baseline_study(search: optuna.Study) -> bool:
    """True if the study keeps its baselines in a sibling (every study made since the sibling existed)."""
    return isinstance(search.user_attrs.get(BASELINE_STUDY_ATTR), str)


def load_baseline(search: optuna.Study, sampler: optuna.samplers.BaseSampler | None = None) -> optuna.Study | None:
    """The baseline sibling of ``search``, or None for a study that keeps its baselines itself (or has none)."""
    name = search.user_attrs.get(BASELINE_STUDY_ATTR)
    if not isinstance(name, str):
        return None
    try:
        return optuna.load_study(study_name=name, storage=storage_of(search), sampler=sampler)
    except KeyError:
        return None


def baseline_trials(search: optuna.Study, states: tuple[TrialState, ...] | None = None) -> list[FrozenTrial]:
    """The study's baseline trials: its sibling's, or (an older study) its own marked ones."""
    sibling = load_baseline(search)
    if sibling is not None:
        return [t for t in sibling.get_trials(deepcopy=False, states=states)]
    return [t for t in search.get_trials(deepcopy=False, states=states) if is_baseline(t)]


def all_trials(search: optuna.Study) -> list[FrozenTrial]:
    """Every trial that counts toward the study's ``trials``: its own and its baseline sibling's."""
    trials = search.get_trials(deepcopy=False)
    sibling = load_baseline(search)
    return trials + sibling.get_trials(deepcopy=False) if sibling is not None else trials


def study_counts(study: optuna.Study) -> dict[str, int]:
    """Number of the study's own trials in each state, by state name."""
    return {state.name: n for state, n in count_states(study).items()}


_SIBLINGS: weakref.WeakKeyDictionary[optuna.Study, optuna.Study | None] = weakref.WeakKeyDictionary()


def _baseline_of(study: optuna.Study) -> optuna.Study | None:
    """The baseline sibling of ``study``, read once per study object (it is made with the study,
    before any worker loads it, and never changes)."""
    if study not in _SIBLINGS:
        _SIBLINGS[study] = load_baseline(study)
    return _SIBLINGS[study]


def state_counts(study: optuna.Study) -> dict[str, int]:
    """Number of trials in each state, by state name, over every trial that counts toward the
    study's ``trials``: its own and its baseline sibling's."""
    counts = study_counts(study)
    sibling = _baseline_of(study)
    if sibling is not None:
        for state, n in study_counts(sibling).items():
            counts[state] += n
    return counts
