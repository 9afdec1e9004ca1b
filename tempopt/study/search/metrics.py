"""What a study optimises: validation accuracy alone, or accuracy against the student's cost.

``objectives: [accuracy]`` (the default) is a single-objective study. ``[accuracy, params]``
or ``[accuracy, latency]`` make it multi-objective: maximise val accuracy, minimise the
student's parameter count or its measured CPU inference latency (ms per example). Optuna cannot
prune a multi-objective study, so pruning is off there. A trial's accuracy is always its first
value; :func:`accuracy_of` is how the rest of tempopt reads it, whatever the mode.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from tempopt.study.stored import BASELINE_ATTR

if TYPE_CHECKING:
    from torch import nn

    from tempopt.tasks import Task

ACCURACY, PARAMS, LATENCY = "accuracy", "params", "latency"
COSTS = (PARAMS, LATENCY)
COST_ATTRS = {PARAMS: "params_count", LATENCY: "latency_ms"}
"""The trial user attrs that hold a cost, whatever the study optimises."""
METRIC_NAMES = {ACCURACY: "val_accuracy"}
"""What the dashboard calls a value (``study.metric_names``); a cost keeps its objective's name."""
NO_PRUNING_NOTE = "pruning is off: Optuna cannot prune multi-objective studies, so every trial runs all its epochs."


def directions(objectives: Sequence[str]) -> list[StudyDirection]:
    """Maximise accuracy, minimise every cost."""
    return [StudyDirection.MAXIMIZE if o == ACCURACY else StudyDirection.MINIMIZE for o in objectives]


def name_metrics(study: optuna.Study, objectives: Sequence[str]) -> None:
    """Name the study's values (``val_accuracy``, then the cost) unless they already are, so
    that the dashboard and ``trials_dataframe`` say what each is, not "Objective 0"."""
    names = [METRIC_NAMES.get(o, o) for o in objectives]
    if study.metric_names != names:
        with warnings.catch_warnings():  # "experimental" since Optuna 3.2: said on every call, not useful
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(names)


def is_multi(study: optuna.Study) -> bool:
    return len(study.directions) > 1


def accuracy_of(trial: FrozenTrial) -> float | None:
    """The trial's validation accuracy (its first value), or None if it has none or it is not finite."""
    values = trial.values
    if not values or values[0] is None or not math.isfinite(values[0]):
        return None
    return float(values[0])


def complete_with_accuracy(trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    """Complete trials that have a finite accuracy."""
    return [t for t in trials if t.state == TrialState.COMPLETE and accuracy_of(t) is not None]


def distils(trial: FrozenTrial) -> bool:
    """True for a search trial that trained with distillation: not a baseline, and a kd_weight
    above 0: its own param, or without one the study file's fixed kd_weight (``search:
    {kd_weight: 0.7}``), which a study file keeps above 0."""
    if trial.user_attrs.get(BASELINE_ATTR) is True:
        return False
    kd_weight = trial.params.get("kd_weight")
    return kd_weight is None or float(kd_weight) > 0.0


def student_cost(objective: str, model: nn.Module, task: Task) -> float:
    """The cost ``objective`` names, of a trained student of ``task``."""
    from tempopt.distill.cost import cpu_latency_ms, parameter_count  # torch: not for readers of a study

    if objective == PARAMS:
        return float(parameter_count(model))
    example = task.val[0][0] if task.val is not None else task.train[0][0]  # type: ignore[index]
    return cpu_latency_ms(model, example)


def pareto_front(study: optuna.Study) -> list[FrozenTrial]:
    """The distilled trials (``kd_weight > 0``, not baselines) on the Pareto front, most accurate
    first: what ``tempopt export --pareto`` writes and verification retrains."""
    done = [t for t in complete_with_accuracy(study.get_trials(deepcopy=False)) if distils(t)]
    return front_of(done, [ACCURACY] + [COSTS[0]] * (len(study.directions) - 1))


def front_of(done: Sequence[FrozenTrial], objectives: Sequence[str]) -> list[FrozenTrial]:
    """The non-dominated trials of ``done`` (complete, with values), most accurate first; of trials
    with equal values the first stands for them."""
    signs = [1.0 if d == StudyDirection.MAXIMIZE else -1.0 for d in directions(objectives)]

    def dominates(a: FrozenTrial, b: FrozenTrial) -> bool:
        pairs = [(s * x, s * y) for s, x, y in zip(signs, a.values, b.values, strict=True)]
        return all(x >= y for x, y in pairs) and any(x > y for x, y in pairs)

    front = [t for t in done if not any(dominates(o, t) for o in done if o is not t)]
    unique: dict[tuple[float, ...], FrozenTrial] = {}
    for t in sorted(front, key=lambda t: (-t.values[0], t.number)):
        unique.setdefault(tuple(t.values), t)  # equal values: the first trial stands for them
    return list(unique.values())


def spread(front: Sequence[FrozenTrial], k: int) -> list[FrozenTrial]:
    """Up to ``k`` members of a front, evenly spaced along it: the most accurate and the cheapest first."""
    if len(front) <= k:
        return list(front)
    if k == 1:
        return [front[0]]
    picks = sorted({round(i * (len(front) - 1) / (k - 1)) for i in range(k)})
    ends = [picks[0], picks[-1]]
    return [front[i] for i in ends + [p for p in picks if p not in ends]]
