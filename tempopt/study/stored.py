"""What a study stores, in one vocabulary: the names of its attributes, the roles of its trials,
its siblings' names, the per-example codec, and reading its baseline and verification siblings.

Every package that reads or writes a study (the workers, :mod:`tempopt.analysis`, the export and
the command line) names an attribute through a constant here, never as a string of its own.

The student alone (``kd_weight = 0``) is searched in a sibling study ``NAME:baseline`` with its
own sampler and pruner, so that the search study holds only distilled trials: Optuna's
importances, the dashboard's plots and ``optuna trials`` then see no parameter a job did not use
(a baseline has no temperature, and its ``kd_weight`` is not searched). The search study names
its sibling in ``baseline_study``; the sibling names its search study (and its storage id) and
holds its budget of finished trials. A study created before the sibling existed keeps its
baseline trials (trial attr ``baseline``) among its own and resumes as it is: every reader here
handles both layouts. Its verification is the sibling ``NAME:verify-N`` (named in
``verify_study``); the verification itself is :mod:`tempopt.study.verification`, and ``tempopt
status``, the verdict and the launcher only read what it wrote here, without the trainer or torch.
"""

from __future__ import annotations

import base64
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from tempopt.study.optuna_internals import count_states, storage_of

if TYPE_CHECKING:
    import numpy as np

# --- On a search study ---------------------------------------------------------------------------
SPEC_ATTR = "spec"
"""The study file as tempopt read it (a dict): what makes a study tempopt's."""
TEACHER_KEY_ATTR = "teacher_key"
"""The cache key of the teacher the study's jobs distil from."""
TEACHER_VIEWS_ATTR, TEACHER_VIEWS_BYTES_ATTR = "teacher_views", "teacher_views_bytes"
"""The teacher's view bank: its number of augmented views, and its size on disk."""
BASELINE_STUDY_ATTR = "baseline_study"
"""The name of its baseline sibling."""
VERIFY_ATTR = "verify_study"
"""The name of its current verification sibling."""

# --- On a sibling (baseline or verification) -----------------------------------------------------
SEARCH_STUDY_ATTR = "search_study"
"""The name of its search study."""
SEARCH_ID_ATTR = "search_study_id"
"""The storage id of the search study it was made for."""
PLAN_ATTR = "plan"
"""On a verification: the keys of its planned replicates, written last (workers wait for it)."""

# --- On a trial ----------------------------------------------------------------------------------
BASELINE_ATTR = "baseline"
"""True for a baseline trial (the student alone)."""
ROLE_ATTR, RANK_ATTR, SEED_ATTR, REPLICATE_ATTR = "role", "rank", "student_seed", "replicate"
"""On a replicate: its side (a role below), the rank of its config, its student seed, its key."""
SOURCE_ATTR = "source_trial"
"""On a replicate: the number of the search trial whose config it retrains."""
IDENTITY_ATTRS = (BASELINE_ATTR, ROLE_ATTR, RANK_ATTR, SOURCE_ATTR, SEED_ATTR, REPLICATE_ATTR)
"""What says what a trial is (kept on its retry); its other attributes are what it measured."""
DISTILLED, BASELINE = "distilled", "baseline"
"""The roles of a replicate: the side it stands for in the verdict."""
TEST_ACCURACY_ATTR, CORRECT_ATTR = "test_accuracy", "test_correct"
"""On a replicate: its test accuracy, and which test examples it got right (:func:`encode_correct`)."""


def spec_of(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The stored study file of a study with user attrs ``attrs`` (empty if tempopt did not make it)."""
    spec = attrs.get(SPEC_ATTR)
    return spec if isinstance(spec, dict) else {}


def baseline_name(name: str) -> str:
    """The baseline sibling of study ``name``."""
    return f"{name}:baseline"


def verification_name(name: str, finished: int) -> str:
    """The sibling study that verifies ``name`` as it stood with ``finished`` trials."""
    return f"{name}:verify-{finished}"


def encode_correct(correct: np.ndarray | Any) -> str:
    """Per-example correctness ``(N,)`` bool as compact text for a user attr: packed bits in base64
    (about N/6 characters: 1 700 for a 10 000-image test set). The verdict's interval resamples
    test examples as well as seeds, paired between the two sides."""
    import numpy as np

    bits = np.packbits(np.asarray(correct, dtype=bool))
    return base64.b64encode(bits.tobytes()).decode("ascii")


def decode_correct(text: str, n: int) -> np.ndarray:
    """The ``(n,)`` bool array :func:`encode_correct` wrote."""
    import numpy as np

    bits = np.frombuffer(base64.b64decode(text), dtype=np.uint8)
    return np.unpackbits(bits)[:n].astype(bool)


FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
MIN_BASELINES = 5
"""The fewest finished baseline trials that make the student alone a fair rival (and the fewest a
study with ``baseline: true`` plans, ``trials`` permitting: never more than half of them)."""


def is_baseline(trial: FrozenTrial | optuna.Trial) -> bool:
    """True for a baseline trial (user attr ``baseline``): the student alone."""
    return trial.user_attrs.get(BASELINE_ATTR) is True


def student_alone(trial: FrozenTrial | optuna.Trial) -> bool:
    """True for a trial of the student alone: a baseline trial, or a baseline's verification
    replicate (user attr ``role: baseline``)."""
    return is_baseline(trial) or trial.user_attrs.get(ROLE_ATTR) == BASELINE


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


def load_verification(search: optuna.Study) -> optuna.Study | None:
    """The current verification study of ``search``, or None if none was planned (read only)."""
    name = search.user_attrs.get(VERIFY_ATTR)
    if not isinstance(name, str):
        return None
    try:
        return optuna.load_study(study_name=name, storage=storage_of(search))
    except KeyError:
        return None


def pending(study: optuna.Study) -> tuple[int, int, int]:
    """Replicates of a verification study: (planned, complete, running or waiting)."""
    plan = study.user_attrs.get(PLAN_ATTR) or []
    trials = study.get_trials(deepcopy=False)
    complete = {t.user_attrs.get(REPLICATE_ATTR) for t in trials if t.state == TrialState.COMPLETE}
    open_ = sum(1 for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING))
    return len(plan), len(complete & set(plan)), open_
