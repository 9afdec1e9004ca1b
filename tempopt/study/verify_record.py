"""What a verification leaves in the storage, read without the trainer: the sibling study's
name, the search's attribute that names it, and how many of its replicates are done.

The verification itself (planning it, running its replicates) is :mod:`tempopt.study.verify`;
``tempopt status``, the verdict and the launcher only read what it wrote, and import no torch.
"""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

from tempopt.study.optuna_compat import storage_of

VERIFY_ATTR = "verify_study"
"""The search study's user attr that names its current verification study."""


def verification_name(name: str, finished: int) -> str:
    """The sibling study that verifies ``name`` as it stood with ``finished`` trials."""
    return f"{name}:verify-{finished}"


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
    plan = study.user_attrs.get("plan") or []
    trials = study.get_trials(deepcopy=False)
    complete = {t.user_attrs.get("replicate") for t in trials if t.state == TrialState.COMPLETE}
    open_ = sum(1 for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING))
    return len(plan), len(complete & set(plan)), open_
