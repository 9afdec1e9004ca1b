"""``importance.json``: the importances of every evaluator, their stability and agreement."""

from __future__ import annotations

from typing import Any

from tempopt.analysis.importance._importance import ImportanceAnalysis


def importance_to_json(importances: ImportanceAnalysis, study_name: str) -> dict[str, Any]:
    """A JSON-ready dict of the importances.

    Shape::

        {"study": str, "n_trials": int, "n_pruned_excluded": int, "n_bootstrap": int,
         "log10_params": [str], "reason": str | null, "notes": [str],
         "importances": {evaluator: {param: float}},      # each sums to 1
         "stability": {evaluator: {"top_param_share": float | null,
                                   "params": {param: {"mean": float, "std": float}}}},
         "agreement": {"<evaluator>~<evaluator>": float | null}}   # Spearman

    ``importances`` is empty, and ``reason`` says why, when there were too few trials.
    """
    return {
        "study": study_name,
        "n_trials": importances.n_trials,
        "n_pruned_excluded": importances.n_pruned,
        "n_bootstrap": importances.n_bootstrap,
        "log10_params": importances.log10_params,
        "reason": importances.reason,
        "notes": importances.notes,
        "importances": {n: e.importances for n, e in importances.evaluators.items()},
        "stability": {
            n: {
                "top_param_share": e.top_share,
                "params": {p: {"mean": s.mean, "std": s.std} for p, s in e.stability.items()},
            }
            for n, e in importances.evaluators.items()
        },
        "agreement": {f"{g.first}~{g.second}": g.spearman for g in importances.agreement},
    }
