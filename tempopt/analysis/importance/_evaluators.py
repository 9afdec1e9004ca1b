"""The three evaluators, each fitted on the trials and on bootstrap resamples of them.

Each evaluator sees the log10 view of the trials (:func:`tempopt.analysis.log10_view`), and its
importances are normalised to sum to 1. Stability is measured by refitting every evaluator on
bootstrap resamples of the trials, each with its own seed (so the forests of fANOVA and MDI
vary too), and reporting mean ± std of each normalised importance and how often the top param
stays on top; agreement is the Spearman rank correlation of two evaluators' importances.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import optuna
from optuna.importance import (
    BaseImportanceEvaluator,
    FanovaImportanceEvaluator,
    MeanDecreaseImpurityImportanceEvaluator,
    PedAnovaImportanceEvaluator,
)
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial
from scipy.stats import spearmanr

from tempopt.analysis.trials._trials import log10_view

N_TREES = 32

ProgressCallback = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)`` while a long computation runs."""


def _ped_anova(n_trials: int, seed: int) -> BaseImportanceEvaluator:
    # Optuna advises >= 5 trials in the top quantile; its default 0.1 needs 50 trials.
    quantile = min(0.5, max(0.1, 5 / n_trials))
    return PedAnovaImportanceEvaluator(target_quantile=quantile)


def _fanova(n_trials: int, seed: int) -> BaseImportanceEvaluator:
    return FanovaImportanceEvaluator(n_trees=N_TREES, seed=seed)


def _mdi(n_trials: int, seed: int) -> BaseImportanceEvaluator:
    return MeanDecreaseImpurityImportanceEvaluator(n_trees=N_TREES, seed=seed)


EVALUATORS: dict[str, Callable[[int, int], BaseImportanceEvaluator]] = {
    "ped_anova": _ped_anova,
    "fanova": _fanova,
    "mdi": _mdi,
}
"""Evaluator name → factory ``(n_trials, seed) -> evaluator``; every entry is reported."""

EVALUATOR_LABELS = {"ped_anova": "PED-ANOVA", "fanova": "fANOVA", "mdi": "MDI"}


@dataclass(frozen=True)
class Spread:
    """Mean and standard deviation of one quantity over resamples."""

    mean: float
    std: float


@dataclass(frozen=True)
class EvaluatorImportance:
    """What one evaluator says about the params.

    Attributes:
        importances: param → importance, normalised to sum to 1, largest first.
        stability: param → mean ± std of the normalised importance over bootstrap resamples.
        top_share: fraction of resamples whose most important param is this result's top one.
        note: set when the evaluator found no signal (all importances zero).
    """

    name: str
    importances: dict[str, float]
    stability: dict[str, Spread]
    top_share: float | None
    note: str | None = None

    @property
    def top(self) -> str | None:
        """The most important param."""
        return next(iter(self.importances), None)


@dataclass(frozen=True)
class Agreement:
    """Spearman rank correlation of two evaluators' importances (None with < 3 params)."""

    first: str
    second: str
    spearman: float | None


class Fits:
    """Runs each evaluator on the trials and on bootstrap resamples of them."""

    def __init__(
        self,
        trials: list[FrozenTrial],
        space: dict,
        direction: StudyDirection,
        seed: int,
        progress: ProgressCallback | None,
        n_bootstrap: int,
    ) -> None:
        self._space = space
        self._seed = seed
        self._progress = progress
        rng = np.random.default_rng(seed)
        self._full = log10_view(trials, space, direction)
        self._resamples = [
            log10_view([trials[i] for i in rng.integers(0, len(trials), len(trials))], space, direction)
            for _ in range(n_bootstrap)
        ]
        self._done = 0
        self._total = len(EVALUATORS) * (1 + n_bootstrap)

    def evaluate(self, name: str) -> EvaluatorImportance:
        point = self._fit(name, self._full, self._seed)
        samples = [self._fit(name, s, self._seed + 1 + i) for i, s in enumerate(self._resamples)]
        params = list(point)
        stability = (
            {
                p: Spread(
                    float(np.mean([s.get(p, 0.0) for s in samples])), float(np.std([s.get(p, 0.0) for s in samples]))
                )
                for p in params
            }
            if samples
            else {}
        )
        top = params[0] if params else None
        top_share = (
            sum(1 for s in samples if s and max(s, key=s.__getitem__) == top) / len(samples) if samples else None
        )
        note = None if sum(point.values()) > 0 else "found no signal: every importance is zero."
        return EvaluatorImportance(name, normalise(point), stability, top_share, note)

    def _fit(self, name: str, view: optuna.Study, seed: int) -> dict[str, float]:
        evaluator = EVALUATORS[name](len(view.trials), seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # small-sample advice from Optuna; we report our own
            raw = evaluator.evaluate(view, params=list(self._space))
        self._done += 1
        if self._progress is not None:
            self._progress("importances", self._done, self._total)
        return normalise(raw)


def normalise(raw: dict[str, float]) -> dict[str, float]:
    """Importances scaled to sum to 1 and sorted largest first; all-zero stays all-zero."""
    clean = {k: float(v) if math.isfinite(v) else 0.0 for k, v in raw.items()}
    total = sum(clean.values())
    if total > 0:
        clean = {k: v / total for k, v in clean.items()}
    return dict(sorted(clean.items(), key=lambda kv: -kv[1]))


def agreement(evaluators: dict[str, EvaluatorImportance]) -> list[Agreement]:
    params = sorted({p for e in evaluators.values() for p in e.importances})
    out = []
    for a, b in combinations(evaluators, 2):
        x = [evaluators[a].importances.get(p, 0.0) for p in params]
        y = [evaluators[b].importances.get(p, 0.0) for p in params]
        rho = None
        if len(params) >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0:
            rho = float(spearmanr(x, y).statistic)
        out.append(Agreement(a, b, rho))
    return out
