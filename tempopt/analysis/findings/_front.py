"""Multi-objective studies (accuracy against the student's cost), read for the report.

Every part of the report that looks at one number per trial reads a multi-objective study
through :func:`accuracy_view`: an in-memory single-objective copy whose value is the
accuracy (and whose per-epoch values are the ``val_per_epoch`` the trials recorded, since
Optuna keeps none in such studies). The front itself is :func:`front_rows`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from tempopt.analysis.trials._trials import _quiet_optuna
from tempopt.study.optuna_internals import trial_id_of
from tempopt.study.search.metrics import is_multi, pareto_front


@dataclass(frozen=True)
class FrontRow:
    """One Pareto member: its search trial, accuracy and cost, params, and verified figures."""

    trial: int
    accuracy: float
    cost: float
    params: dict[str, Any]
    verdict: str | None = None  # the member's own verdict when it was verified
    test: list[float] = field(default_factory=list)
    baseline_test: list[float] = field(default_factory=list)


def accuracy_view(study: optuna.Study) -> optuna.Study:
    """``study`` itself when single-objective, else its in-memory copy with accuracy as the value."""
    if not is_multi(study):
        return study
    with _quiet_optuna():
        view = optuna.create_study(direction="maximize", study_name=study.study_name)
    for key, value in study.user_attrs.items():
        view.set_user_attr(key, value)
    finished = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    for t in study.get_trials(deepcopy=False, states=finished):
        history = t.user_attrs.get("val_per_epoch") or []
        view.add_trial(
            FrozenTrial(
                number=t.number,
                state=t.state,
                value=None,
                values=[t.values[0]] if t.values else None,
                datetime_start=t.datetime_start,
                datetime_complete=t.datetime_complete,
                params=dict(t.params),
                distributions=dict(t.distributions),
                user_attrs=dict(t.user_attrs),
                system_attrs={},
                intermediate_values={i: float(v) for i, v in enumerate(history, start=1)},
                trial_id=trial_id_of(t),
            )
        )
    return view


def front_rows(study: optuna.Study) -> list[FrontRow]:
    """The distilled Pareto front of a multi-objective study, most accurate first (else empty)."""
    if not is_multi(study):
        return []
    from tempopt.analysis.verdict._compute import member_verdicts

    own = member_verdicts(study)
    rows = []
    for t in pareto_front(study):
        v = own.get(t.number)
        rows.append(
            FrontRow(
                trial=t.number,
                accuracy=float(t.values[0]),
                cost=float(t.values[1]),
                params=dict(t.params),
                verdict=v.verdict if v is not None else None,
                test=list(v.distilled.test) if v is not None and v.distilled is not None else [],
                baseline_test=list(v.baseline.test) if v is not None and v.baseline is not None else [],
            )
        )
    return rows
