"""Which loss variant did best: the per-variant comparison of a study (read only).

For every variant the distilled trials used: how many trials ran, the best and the spread of
their validation accuracies, the verified test accuracy of its best verified config (mean over
the student seeds), and for a learned temperature its final value and trajectory per epoch.
Baselines (the student alone) have no variant and are left out.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

import optuna
from optuna.trial import FrozenTrial, TrialState

from tempopt.analysis.trials._trials import is_distilled
from tempopt.study.search.metrics import accuracy_of, complete_with_accuracy
from tempopt.study.stored import (
    DISTILLED,
    RANK_ATTR,
    ROLE_ATTR,
    TEST_ACCURACY_ATTR,
    load_verification,
    spec_of,
)

LEARNED = "learned_temperature"


@dataclass(frozen=True)
class VariantRow:
    """One variant's figures. ``verified_test`` is None when none of its configs was verified."""

    variant: str
    trials: int  # distilled trials that ran to the end or were pruned
    complete: int
    best_val: float | None = None
    best_trial: int | None = None
    val_sd: float | None = None
    verified_test: float | None = None
    verified_seeds: int = 0
    learned_temperature: float | None = None  # the best trial's final learned T
    trajectory: list[float] = field(default_factory=list)  # its learned T per epoch

    def to_json(self) -> dict[str, object]:
        return dict(self.__dict__)


def variant_of(trial: FrozenTrial, default: str) -> str:
    """The loss variant a trial trained with (``default``: the study's fixed ``loss``)."""
    return str(trial.params.get("loss", default))


def variant_comparison(study: optuna.Study) -> list[VariantRow]:
    """One row per variant the study's distilled trials used, best verified test accuracy first."""
    spec = spec_of(study.user_attrs)
    default = str(spec.get("loss", "kd"))
    ran = [
        t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)) if is_distilled(t)
    ]
    verified = _verified_tests(study, default)
    rows = []
    for variant in sorted({variant_of(t, default) for t in ran}):
        mine = [t for t in ran if variant_of(t, default) == variant]
        done = complete_with_accuracy(mine)
        best = max(done, key=lambda t: (float(accuracy_of(t)), -t.number)) if done else None  # type: ignore[arg-type]
        tests = verified.get(variant)
        trajectory = [float(v) for v in (best.user_attrs.get(f"{LEARNED}_per_epoch") or [])] if best else []
        rows.append(
            VariantRow(
                variant=variant,
                trials=len(mine),
                complete=len(done),
                best_val=accuracy_of(best) if best is not None else None,
                best_trial=best.number if best is not None else None,
                val_sd=statistics.stdev(float(accuracy_of(t)) for t in done) if len(done) > 1 else None,  # type: ignore[arg-type]
                verified_test=statistics.fmean(tests) if tests else None,
                verified_seeds=len(tests or []),
                learned_temperature=float(best.user_attrs[LEARNED]) if best and LEARNED in best.user_attrs else None,
                trajectory=trajectory,
            )
        )
    return sorted(rows, key=lambda r: (r.verified_test is None, -(r.verified_test or 0.0), -(r.best_val or 0.0)))


def _verified_tests(study: optuna.Study, default: str) -> dict[str, list[float]]:
    """Per variant, the test accuracies (one per seed) of its best verified distilled config."""
    verification = load_verification(study)
    if verification is None:
        return {}
    groups: dict[int, list[FrozenTrial]] = {}
    for t in verification.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if t.user_attrs.get(ROLE_ATTR) == DISTILLED and TEST_ACCURACY_ATTR in t.user_attrs:
            groups.setdefault(int(t.user_attrs[RANK_ATTR]), []).append(t)
    best: dict[str, tuple[float, list[float]]] = {}
    for group in groups.values():
        variant = variant_of(group[0], default)
        val = statistics.fmean(float(t.value) for t in group)  # type: ignore[arg-type]
        if variant not in best or val > best[variant][0]:  # selected on validation, as the verdict is
            best[variant] = (val, [float(t.user_attrs[TEST_ACCURACY_ATTR]) for t in group])
    return {variant: tests for variant, (_, tests) in best.items()}
