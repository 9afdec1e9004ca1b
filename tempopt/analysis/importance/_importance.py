"""Parameter importances from three evaluators, how far they agree and how stable they are.

The evaluators are Optuna's PED-ANOVA (its default), fANOVA and mean decrease in impurity
(MDI). Each sees the same trials: the ``COMPLETE`` ones that the sampler chose, with log-scale
params as log10 (see :func:`tempopt.analysis.log10_view`).

Pruned trials are left out and counted: their last intermediate value is an early-epoch
accuracy, so mixing it with final accuracies would rank a param that slows early learning as if
it hurt the final result. The price is that importances describe the trials that survived the
pruner; the report shows the pruned count next to them.

Baseline trials (``kd_weight = 0``, enqueued by the runner at fixed params) are left out and
counted too: they are reference points, not samples of the search space, and at
``kd_weight = 0`` the temperature has no effect, so they would add a cluster that the sampler
never drew. Whether distillation helps at all is the KD gain's question.

Stability is measured by refitting every evaluator on bootstrap resamples of the trials, each
with its own seed (so the forests of fANOVA and MDI vary too), and reporting mean ± std of
each normalised importance and how often the top param stays on top.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
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

from tempopt.analysis.trials._trials import (
    complete_trials,
    count_trials,
    is_baseline,
    is_log,
    log10_view,
    search_space,
)

MIN_TRIALS = 8
"""Fewer complete trials than this give no importances, only a reason."""
FEW_TRIALS = 30
"""Below this many complete trials the result carries a "treat as rough" note."""
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


@dataclass(frozen=True)
class ImportanceAnalysis:
    """Importances of every evaluator, or the reason there are none.

    Attributes:
        n_trials: complete trials used (baseline trials are not).
        n_pruned: pruned trials left out.
        n_bootstrap: resamples behind each ``stability``.
        evaluators: evaluator name → result; empty when ``reason`` is set.
        agreement: one entry per pair of evaluators.
        log10_params: params the evaluators saw as log10.
        reason: why there are no importances (too few trials, constant values).
        notes: caveats a reader should see next to the numbers.
        n_baseline: complete baseline trials left out.
    """

    n_trials: int
    n_pruned: int
    n_bootstrap: int
    evaluators: dict[str, EvaluatorImportance]
    agreement: list[Agreement]
    log10_params: list[str]
    reason: str | None = None
    notes: list[str] = field(default_factory=list)
    n_baseline: int = 0

    @property
    def ok(self) -> bool:
        """True when there are importances to show."""
        return self.reason is None

    @property
    def params(self) -> list[str]:
        """Every param some evaluator rated, by mean importance over evaluators, largest first."""
        return sorted(self._params(), key=lambda p: -self.mean_importance(p))

    def mean_importance(self, param: str) -> float:
        """The param's importance averaged over evaluators (0 where one did not rate it)."""
        if not self.evaluators:
            return 0.0
        return float(np.mean([e.importances.get(param, 0.0) for e in self.evaluators.values()]))

    @property
    def consensus_top(self) -> str | None:
        """The param every evaluator ranks first, or None if they differ."""
        tops = {e.top for e in self.evaluators.values()}
        return tops.pop() if len(tops) == 1 else None

    def _params(self) -> set[str]:
        return {p for e in self.evaluators.values() for p in e.importances}


def compute_importances(
    study: optuna.Study,
    *,
    n_bootstrap: int = 10,
    seed: int = 0,
    min_trials: int = MIN_TRIALS,
    progress: ProgressCallback | None = None,
) -> ImportanceAnalysis:
    """Importances of the study's params by PED-ANOVA, fANOVA and MDI, with their stability.

    Args:
        study: the study to read (never written).
        n_bootstrap: bootstrap resamples for the stability estimate; 0 skips it.
        seed: seed of the forests and of the resampling.
        min_trials: fewer complete trials than this give a ``reason`` instead of importances.
        progress: called as ``progress("importances", done, total)`` after each fit.

    Returns:
        The importances, or an :class:`ImportanceAnalysis` whose ``reason`` says why not.
    """
    all_trials = study.get_trials(deepcopy=False)
    done = complete_trials(all_trials)
    trials = [t for t in done if not is_baseline(t)]
    n_pruned, n_baseline = count_trials(all_trials).pruned, len(done) - len(trials)
    full = {n: d for n, d in search_space(trials).items() if not d.single()}
    space = {n: d for n, d in full.items() if all(n in t.params for t in trials)}
    conditional = sorted(set(full) - set(space))  # one variant's args, or T where some variants take none
    log10_params = [n for n, d in space.items() if is_log(d)]
    empty = ImportanceAnalysis(len(trials), n_pruned, n_bootstrap, {}, [], log10_params, n_baseline=n_baseline)
    reason = _no_importance_reason(trials, space, min_trials, n_pruned)
    if reason is not None:
        return replace(empty, reason=reason)

    fits = _Fits(trials, space, study.direction, seed, progress, n_bootstrap)
    evaluators = {name: fits.evaluate(name) for name in EVALUATORS}
    notes = _notes(len(trials), n_pruned, n_baseline, log10_params)
    if conditional:
        notes.append(
            "conditional params (" + ", ".join(conditional) + ") are absent from some trials and are not "
            "ranked here; the loss variants table compares the variants."
        )
    return replace(empty, evaluators=evaluators, agreement=_agreement(evaluators), notes=notes)


def _no_importance_reason(trials: list[FrozenTrial], space: dict, min_trials: int, n_pruned: int) -> str | None:
    if len(trials) < min_trials:
        pruned = f" ({n_pruned} pruned trials are not counted)" if n_pruned else ""
        return (
            f"only {len(trials)} complete sampled trials{pruned}; importances need at least "
            f"{min_trials}, so run more trials."
        )
    if not space:
        return "no parameter varies across the complete trials, so there is nothing to rank."
    values = [t.value for t in trials]
    if max(values) == min(values):  # type: ignore[type-var]
        return f"all {len(trials)} complete trials have the same value, so no param explains it."
    return None


class _Fits:
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
        return EvaluatorImportance(name, _normalise(point), stability, top_share, note)

    def _fit(self, name: str, view: optuna.Study, seed: int) -> dict[str, float]:
        evaluator = EVALUATORS[name](len(view.trials), seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # small-sample advice from Optuna; we report our own
            raw = evaluator.evaluate(view, params=list(self._space))
        self._done += 1
        if self._progress is not None:
            self._progress("importances", self._done, self._total)
        return _normalise(raw)


def _normalise(raw: dict[str, float]) -> dict[str, float]:
    """Importances scaled to sum to 1 and sorted largest first; all-zero stays all-zero."""
    clean = {k: float(v) if math.isfinite(v) else 0.0 for k, v in raw.items()}
    total = sum(clean.values())
    if total > 0:
        clean = {k: v / total for k, v in clean.items()}
    return dict(sorted(clean.items(), key=lambda kv: -kv[1]))


def _agreement(evaluators: dict[str, EvaluatorImportance]) -> list[Agreement]:
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


def _notes(n_trials: int, n_pruned: int, n_baseline: int, log10_params: Sequence[str]) -> list[str]:
    notes = []
    if n_trials < FEW_TRIALS:
        notes.append(f"only {n_trials} complete trials: treat these importances as rough and look at their spread.")
    if n_pruned:
        notes.append(f"{n_pruned} pruned trials are left out (their last value is not final).")
    if n_baseline:
        notes.append(
            f"{n_baseline} baseline trials (kd_weight = 0) are left out: they are "
            "reference points, not samples of the search."
        )
    if log10_params:
        notes.append("the evaluators saw " + ", ".join(log10_params) + " as log10.")
    return notes
