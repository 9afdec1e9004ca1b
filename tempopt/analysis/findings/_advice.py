"""What to try next, read off an analysis: widen a range, run more trials, fix a param."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from optuna.distributions import BaseDistribution, FloatDistribution, IntDistribution

from tempopt.analysis.importance._evaluators import EVALUATOR_LABELS
from tempopt.analysis.importance._importance import FEW_TRIALS
from tempopt.analysis.trials._trial_summary import TrialSummary
from tempopt.analysis.trials._trials import KD_WEIGHT, position_in_range
from tempopt.analysis.verdict._verdict import HELPED

if TYPE_CHECKING:
    from tempopt.analysis.findings._study_analysis import StudyAnalysis

EDGE = 0.1
"""A best value within this fraction of the (log) range of a bound is "at the edge"."""
LOW_IMPORTANCE = 0.1
"""A param whose importance, averaged over evaluators, is below this (or below half an equal
share with many params) barely matters: no advice to widen it, advice to fix it."""
HARD_BOUNDS = {KD_WEIGHT: (0.0, 1.0)}
"""Ranges that cannot be widened past these values."""


def suggest_next_steps(analysis: StudyAnalysis) -> list[str]:
    """Concrete changes to the study file or the run, most useful first."""
    steps = _more_trials(analysis) + _edges(analysis) + _kd(analysis)
    steps += _disagreement(analysis) + _negligible(analysis) + _pruning(analysis)
    if not steps:
        steps.append(
            "Nothing obvious to change: the best configuration sits inside every range and the "
            "evaluators agree; export it."
        )
    return steps


def _more_trials(a: StudyAnalysis) -> list[str]:
    if a.importances.ok:
        return []
    reason = a.importances.reason or ""
    return [reason[:1].upper() + reason[1:]]


def _edges(a: StudyAnalysis) -> list[str]:
    best = _best_distilled(a) or a.best
    if best is None:
        return []
    steps = []
    for name, dist in a.space.items():
        if name not in best.params or name in _barely_matter(a):
            continue
        pos = position_in_range(best.params[name], dist)
        if pos is None:
            continue
        if pos >= 1 - EDGE:
            steps += _widen(name, best.params[name], dist, upper=True)
        elif pos <= EDGE:
            steps += _widen(name, best.params[name], dist, upper=False)
    return steps


def _widen(name: str, value: float, dist: BaseDistribution, upper: bool) -> list[str]:
    assert isinstance(dist, (FloatDistribution, IntDistribution))
    bound = dist.high if upper else dist.low
    hard = HARD_BOUNDS.get(name, (None, None))[1 if upper else 0]
    where = (
        f"best {name} = {value:.4g} is at the {'upper' if upper else 'lower'} edge of [{dist.low:.4g}, {dist.high:.4g}]"
    )
    if hard is not None and bound == hard:
        return [f"The {where}, which is as far as it goes; keep it there or fix it."]
    if dist.log:
        new = bound * 2 if upper else bound / 2
    else:
        half = (dist.high - dist.low) / 2
        new = bound + half if upper else bound - half
        if hard is not None:
            new = min(new, hard) if upper else max(new, hard)
    key = f"search.{name}.{'high' if upper else 'low'}"
    return [f"The {where} → widen it: set {key} to {new:.4g}."]


def _best_distilled(a: StudyAnalysis) -> TrialSummary | None:
    """The best distilled trial of the search (the verdict's distilled side before verification)."""
    d = a.verdict.distilled
    if d is None or d.trial is None:
        return None
    value = d.val[0] if len(d.val) == 1 else float(np.mean(d.val))
    return TrialSummary(d.trial, value, d.params, None)


def _kd(a: StudyAnalysis) -> list[str]:
    v = a.verdict
    if v.verdict == HELPED:
        return []
    if v.baseline is None or v.distilled is None:
        return [v.summary]
    on_test = v.verified and v.split == "test"
    student = float(np.mean(v.baseline.test)) if v.verified else v.baseline.val[0]
    teacher = a.teacher_test_accuracy if on_test else a.teacher_accuracy
    if teacher is not None and teacher <= student:
        return [
            f"Distillation did not help and the teacher ({teacher:.4f}) is no better than the "
            f"student trained alone ({student:.4f}): use a stronger teacher first."
        ]
    if not v.verified:
        return [f"{v.summary} Run the study to its end with verification on (verify.seeds > 0) for a verdict."]
    return [
        "Distillation did not clearly help: try more epochs, a wider kd_weight range, a transfer "
        "set of unlabelled data, or more verification seeds (verify.seeds) for a narrower interval."
    ]


def _disagreement(a: StudyAnalysis) -> list[str]:
    imp = a.importances
    if not imp.ok:
        return []
    rhos = [g.spearman for g in imp.agreement if g.spearman is not None]
    if imp.consensus_top is not None and (not rhos or np.mean(rhos) >= 0.5):
        return []
    tops: dict[str, list[str]] = {}
    for name, e in imp.evaluators.items():
        tops.setdefault(e.top or "none", []).append(EVALUATOR_LABELS.get(name, name))
    who = "; ".join(f"{p} for {', '.join(names)}" for p, names in tops.items())
    return [
        f"The evaluators disagree on which param matters most ({who}): run more trials before "
        "dropping any of those from the search."
    ]


def _barely_matter(a: StudyAnalysis) -> list[str]:
    """Params with a low mean importance.

    None with fewer than :data:`FEW_TRIALS` trials (importances that rough should not make
    anyone fix a param), without importances, or with only two params.
    """
    imp = a.importances
    if not imp.ok or imp.n_trials < FEW_TRIALS or len(imp.params) < 3:
        return []
    threshold = min(LOW_IMPORTANCE, 0.5 / len(imp.params))
    return [p for p in imp.params if imp.mean_importance(p) < threshold]


def _negligible(a: StudyAnalysis) -> list[str]:
    best = _best_distilled(a) or a.best
    steps = []
    for param in _barely_matter(a):
        value = best.params.get(param) if best is not None else None
        at = f" at its best value ({value:.4g})" if isinstance(value, (int, float)) else ""
        steps.append(
            f"{param} barely matters (mean importance {a.importances.mean_importance(param):.2f} "
            f"over the evaluators): fix it{at} and spend the trials on the others."
        )
    return steps


def _pruning(a: StudyAnalysis) -> list[str]:
    c = a.counts
    steps = []
    if c.pruned and c.pruned > c.complete:
        steps.append(
            f"The pruner stopped {c.pruned} of {c.total} trials: check in the intermediate-values "
            "plot that good trials were not cut early, and give the pruner more warm-up epochs "
            "if they were."
        )
    if c.failed:
        steps.append(f"{c.failed} trials failed: find out why before running more.")
    return steps
