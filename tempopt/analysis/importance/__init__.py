"""Which params matter: importances from three evaluators, how far they agree and how stable
they are. Importing this package imports Optuna's importance evaluators (and scipy)."""

from tempopt.analysis.importance._evaluators import EVALUATORS, Agreement, EvaluatorImportance, ProgressCallback, Spread
from tempopt.analysis.importance._importance import MIN_TRIALS, ImportanceAnalysis, compute_importances

__all__ = [
    "EVALUATORS",
    "MIN_TRIALS",
    "Agreement",
    "EvaluatorImportance",
    "ImportanceAnalysis",
    "ProgressCallback",
    "Spread",
    "compute_importances",
]
