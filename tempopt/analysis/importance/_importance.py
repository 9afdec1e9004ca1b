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

The evaluators, their stability over bootstrap resamples and their agreement are
:mod:`._evaluators`; this module picks the trials and params they see and says why there are no
importances when there are none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import optuna
from optuna.trial import FrozenTrial

from tempopt.analysis.importance._evaluators import (
    EVALUATORS,
    Agreement,
    EvaluatorImportance,
    Fits,
    ProgressCallback,
    agreement,
)
from tempopt.analysis.trials._trials import (
    complete_trials,
    count_trials,
    is_baseline,
    is_log,
    search_space,
)

MIN_TRIALS = 8
"""Fewer complete trials than this give no importances, only a reason."""
FEW_TRIALS = 30
"""Below this many complete trials the result carries a "treat as rough" note."""


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

    fits = Fits(trials, space, study.direction, seed, progress, n_bootstrap)
    evaluators = {name: fits.evaluate(name) for name in EVALUATORS}
    notes = _notes(len(trials), n_pruned, n_baseline, log10_params)
    if conditional:
        notes.append(
            "conditional params (" + ", ".join(conditional) + ") are absent from some trials and are not "
            "ranked here; the loss variants table compares the variants."
        )
    return replace(empty, evaluators=evaluators, agreement=agreement(evaluators), notes=notes)


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
