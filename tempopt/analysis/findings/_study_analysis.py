"""Everything the report says about a study, computed once into one plain object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.distributions import BaseDistribution

from tempopt.analysis.findings._advice import suggest_next_steps
from tempopt.analysis.findings._front import FrontRow, accuracy_view, front_rows
from tempopt.analysis.findings._sensitivity import TemperatureSensitivity, temperature_sensitivity
from tempopt.analysis.findings._variants import VariantRow, variant_comparison
from tempopt.analysis.importance._evaluators import ProgressCallback
from tempopt.analysis.importance._importance import ImportanceAnalysis, compute_importances
from tempopt.analysis.trials._trial_summary import TrialSummary, summarise_trial
from tempopt.analysis.trials._trials import TrialCounts, complete_trials, count_trials, search_space
from tempopt.analysis.verdict._best import BestConfig, best_config
from tempopt.analysis.verdict._compute import compute_verdict
from tempopt.analysis.verdict._verdict import Verdict
from tempopt.study.stored import SPEC_ATTR, baseline_trials, load_baseline, spec_of


@dataclass(frozen=True)
class StudyAnalysis:
    """The numbers behind ``report.md``, ``report.html`` and ``importance.json``.

    Attributes:
        study_name: the study's name.
        direction: ``maximize`` for studies written by tempopt.
        counts: trials per state.
        best: the config to use, as every command shows it (:func:`best_config`; None before
            any trial completed).
        space: the search space the complete trials were sampled from.
        importances: importances, their agreement and stability.
        verdict: did distillation help (from verification; see ``compute_verdict``).
        temperature: accuracy against T and the T×λ grid.
        best_baseline: the best complete baseline trial of the search (the student alone).
        at_chance: numbers of the trials that never beat chance level (user attr ``at_chance``).
        attrs: the study's user attrs (``spec``, ``task``, ``teacher_accuracy``, …).
        variants: the per-variant comparison (one row per loss variant the trials used).
        front: a multi-objective study's distilled Pareto front (empty otherwise); ``cost`` names
            its second objective.
    """

    study_name: str
    direction: str
    counts: TrialCounts
    best: BestConfig | None
    space: dict[str, BaseDistribution]
    importances: ImportanceAnalysis
    verdict: Verdict
    temperature: TemperatureSensitivity
    best_baseline: TrialSummary | None = None
    at_chance: list[int] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    variants: list[VariantRow] = field(default_factory=list)
    front: list[FrontRow] = field(default_factory=list)
    cost: str = "accuracy"

    @property
    def compares_variants(self) -> bool:
        """True when the study used a loss variant other than plain ``kd`` (or several)."""
        return len(self.variants) > 1 or any(r.variant != "kd" for r in self.variants)

    @property
    def spec(self) -> dict[str, Any] | None:
        """The study file the runner validated, if it saved one."""
        spec = self.attrs.get(SPEC_ATTR)
        return spec if isinstance(spec, dict) else None

    @property
    def teacher_accuracy(self) -> float | None:
        """The teacher's validation accuracy, if the runner saved it."""
        value = self.attrs.get("teacher_accuracy")
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def teacher_test_accuracy(self) -> float | None:
        """The teacher's test accuracy, if the task has a test split."""
        value = self.attrs.get("teacher_test_accuracy")
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def next_steps(self) -> list[str]:
        """What to change before the next run, most useful first."""
        return suggest_next_steps(self)


def analyse_study(
    study: optuna.Study,
    *,
    n_bootstrap: int = 10,
    seed: int = 0,
    progress: ProgressCallback | None = None,
) -> StudyAnalysis:
    """Compute everything the report shows; the study is only read.

    Args:
        study: a study written by tempopt (other studies work; KD parts then say what is missing).
        n_bootstrap: bootstrap resamples behind the importance stability.
        seed: seed of the importance forests and resampling.
        progress: called as ``progress(stage, done, total)``.
    """
    real, study = study, accuracy_view(study)  # a multi-objective study: accuracy as the one value
    trials = study.get_trials(deepcopy=False)
    done = complete_trials(trials)
    sibling = load_baseline(real)  # with accuracy as the value too
    baselines = complete_trials(accuracy_view(sibling).get_trials() if sibling else baseline_trials(study))
    baseline = max(baselines, key=lambda t: t.value) if baselines else None  # type: ignore[arg-type,return-value]
    verdict = compute_verdict(real)
    return StudyAnalysis(
        study_name=study.study_name,
        direction=study.direction.name.lower(),
        counts=count_trials(trials),
        best=best_config(real, verdict),
        space=search_space(done),
        importances=compute_importances(study, n_bootstrap=n_bootstrap, seed=seed, progress=progress),
        verdict=verdict,
        temperature=temperature_sensitivity(study),
        best_baseline=summarise_trial(baseline) if baseline is not None else None,
        at_chance=[t.number for t in trials if t.user_attrs.get("at_chance") is True],
        attrs=dict(study.user_attrs),
        variants=variant_comparison(real),
        front=front_rows(real),
        cost=spec_of(real.user_attrs).get("objectives", ["accuracy"])[-1],
    )
