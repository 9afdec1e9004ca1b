"""Was the student alone a fair rival? The baseline search behind a verdict.

A gain over the student alone is only a gain of distillation when the student alone was tuned
as hard as the distilled side: with one baseline trial at a poor learning rate, the whole
"gain" is the learning rate. So the verdict is *no evidence* (with the reason and the fix)
whenever the baseline search was too small (fewer than :data:`MIN_BASELINE_TRIALS` finished
baseline trials) or its best learning rate lies within the outer :data:`EDGE` of the searched
lr range on the log scale, where the student alone's optimum may lie outside the range.
"""

from __future__ import annotations

import math
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from tempopt.study.search.metrics import accuracy_of, complete_with_accuracy
from tempopt.study.stored import MIN_BASELINES

MIN_BASELINE_TRIALS = MIN_BASELINES
EDGE = 0.10
"""The outer share of the lr range (on the log scale, at either end) that counts as its edge."""


def baseline_search(spec: dict[str, Any], baselines: list[FrozenTrial], lr: float | None = None) -> dict[str, Any]:
    """``{"trials", "best_lr", "lr_at_edge"}`` of the study's baseline search, as ``verdict.json`` gives it.

    Args:
        spec: the study's stored spec.
        baselines: its baseline trials.
        lr: the learning rate of the baseline config the verdict compares with (default: the
            best baseline trial's by validation accuracy).
    """
    finished = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in baselines)
    searched = (spec.get("search") or {}).get("lr")
    if lr is None:
        done = sorted(complete_with_accuracy(baselines), key=lambda t: (-float(accuracy_of(t)), t.number))  # type: ignore[arg-type]
        lr = next((float(t.params["lr"]) for t in done if "lr" in t.params), None)
    if lr is None and isinstance(searched, (int, float)) and not isinstance(searched, bool):
        lr = float(searched)  # a fixed lr: both sides trained with it
    return {"trials": finished, "best_lr": lr, "lr_at_edge": lr is not None and _at_edge(lr, searched)}


def under_tuned(search: dict[str, Any], spec: dict[str, Any]) -> str | None:
    """Why the student alone was no fair rival (the reason and the fix), or None if it was."""
    n = int(search["trials"])
    if n < MIN_BASELINE_TRIALS:
        trial_s = "trial" if n == 1 else "trials"
        return (
            f"the student alone was tuned over only {n} baseline {trial_s}, fewer than the "
            f"{MIN_BASELINE_TRIALS} a fair rival needs, so a gain may be only a better learning rate; "
            f"raise trials to at least {min_trials_for_baselines(spec)} and run again"
        )
    if search["lr_at_edge"]:
        low, high = _lr_range((spec.get("search") or {}).get("lr"))  # type: ignore[misc]
        return (
            f"the student alone's best learning rate {search['best_lr']:.3g} lies at the edge of the searched "
            f"lr range [{low:g}, {high:g}] (its outer {EDGE:.0%} on the log scale), so its optimum may lie "
            "outside the range; widen lr and run again"
        )
    return None


def min_trials_for_baselines(spec: dict[str, Any]) -> int:
    """The fewest ``trials`` that give :data:`MIN_BASELINE_TRIALS` baseline trials: baselines are at
    least that many but never more than half of the trials."""
    return 2 * MIN_BASELINE_TRIALS


def _lr_range(searched: Any) -> tuple[float, float] | None:
    """``(low, high)`` of the searched lr (a range, or the extremes of its choices); None if fixed."""
    if not isinstance(searched, dict):
        return None
    if searched.get("choices"):
        numbers = [float(c) for c in searched["choices"] if isinstance(c, (int, float)) and c > 0]
        return (min(numbers), max(numbers)) if numbers else None
    if searched.get("low") is None or searched.get("high") is None:
        return None
    return float(searched["low"]), float(searched["high"])


def _at_edge(lr: float, searched: Any) -> bool:
    """True if ``lr`` lies within the outer :data:`EDGE` of the searched lr range, on the log scale."""
    bounds = _lr_range(searched)
    if bounds is None or not 0 < bounds[0] < bounds[1] or lr <= 0:
        return False
    low, high = math.log(bounds[0]), math.log(bounds[1])
    where = (math.log(lr) - low) / (high - low)  # 0 at low, 1 at high
    return where < EDGE or where > 1 - EDGE
