"""A verdict: helped, hurt or no evidence, its two sides, the paired comparison of their
replicates that measures one, and the one sentence that says it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from optuna.trial import FrozenTrial

from tempopt.analysis.verdict._interval import paired_interval
from tempopt.study.stored import BASELINE, CORRECT_ATTR, DISTILLED, SOURCE_ATTR, TEST_ACCURACY_ATTR, decode_correct

HELPED, NO_EVIDENCE, HURT = "helped", "no evidence", "hurt"


@dataclass(frozen=True)
class Side:
    """One side of the comparison: its config and its per-seed accuracies (in ``seeds`` order)."""

    params: dict[str, Any]
    trial: int | None
    val: list[float] = field(default_factory=list)
    test: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"params": self.params, "trial": self.trial, "val": self.val, "test": self.test}


@dataclass(frozen=True)
class Verdict:
    """The answer to "did distillation help?" and the numbers behind it.

    Attributes:
        verdict: ``helped``, ``no evidence`` or ``hurt``.
        split: where ``test`` accuracies were measured: ``test``, or ``val`` for a task without
            a test split (then optimistic: the search selected on it).
        seeds: the student seeds (the values ``tempopt train --seed`` takes).
        gain: ``{"mean", "low", "high"}`` of the paired test difference, or None.
        distilled, baseline: the two sides (None when missing).
        summary: one plain sentence with the figures.
        reason: what is missing when the verdict could not rest on verification.
    """

    verdict: str
    split: str
    seeds: list[int]
    gain: dict[str, float] | None
    distilled: Side | None
    baseline: Side | None
    summary: str
    reason: str | None = None
    examples: int = 0
    baseline_trials: int = 0
    student: dict[str, Any] = field(default_factory=dict)  # searched task args both sides share
    baseline_search: dict[str, Any] = field(default_factory=dict)  # {"trials", "best_lr", "lr_at_edge"}

    @property
    def verified(self) -> bool:
        return self.gain is not None

    def to_json(self) -> dict[str, Any]:
        """The content of ``verdict.json``."""
        return {
            "split": self.split,
            "seeds": self.seeds,
            "verdict": self.verdict,
            "gain": self.gain,
            "distilled": self.distilled.to_json() if self.distilled else None,
            "baseline": self.baseline.to_json() if self.baseline else None,
            "summary": self.summary,
            "reason": self.reason,
            "examples": self.examples,
            "baseline_trials": self.baseline_trials,
            "student": self.student,
            "baseline_search": self.baseline_search,
        }


def unverified_verdict(reason: str, baseline_trials: int = 0) -> Verdict:
    """A config's verdict when it has no verification of its own: no evidence, and why."""
    return no_evidence(
        {
            "split": "val",
            "seeds": [],
            "gain": None,
            "distilled": None,
            "baseline": None,
            "baseline_trials": baseline_trials,
        },
        reason,
    )


Groups = dict[tuple[str, int], dict[int, FrozenTrial]]
"""Verification's replicates by (role, rank), then by student seed."""


def compare(groups: Groups, rank: int, n_baselines: int, n_bootstrap: int, student_args: list[str]) -> Verdict:
    """The distilled config of ``rank`` against its baseline, paired over seeds and examples."""
    best = groups[(DISTILLED, rank)]
    baseline = groups.get((BASELINE, rank), groups.get((BASELINE, 0)))  # multi-objective: the same student
    if baseline is None:
        raise ValueError("verification has no baseline replicate")
    seeds = sorted(set(best) & set(baseline))
    n = int(best[seeds[0]].user_attrs["test_examples"])
    d = np.stack([decode_correct(best[s].user_attrs[CORRECT_ATTR], n) for s in seeds])  # (S, N)
    b = np.stack([decode_correct(baseline[s].user_attrs[CORRECT_ATTR], n) for s in seeds])  # (S, N)
    mean, low, high = paired_interval(d, b, n_bootstrap)
    verdict = HELPED if low > 0 else HURT if high < 0 else NO_EVIDENCE
    split = str(best[seeds[0]].user_attrs.get("test_split", "test"))

    def side(g: dict[int, FrozenTrial]) -> Side:
        first = g[seeds[0]]
        return Side(
            dict(first.params),
            int(first.user_attrs[SOURCE_ATTR]),
            [float(g[s].value) for s in seeds],  # type: ignore[arg-type]
            [float(g[s].user_attrs[TEST_ACCURACY_ATTR]) for s in seeds],
        )

    dist, base = side(best), side(baseline)
    student = {name: dist.params[name] for name in student_args if name in dist.params}
    result = Verdict(
        verdict=verdict,
        split=split,
        seeds=seeds,
        gain={"mean": mean, "low": low, "high": high},
        distilled=dist,
        baseline=base,
        summary="",
        examples=n,
        baseline_trials=n_baselines,
        student=student,
    )
    return with_summary(result)


def no_evidence(base: dict[str, Any], reason: str) -> Verdict:
    v = Verdict(verdict=NO_EVIDENCE, summary="", reason=reason, **base)
    return with_summary(v)


def with_summary(v: Verdict) -> Verdict:
    return Verdict(**{**v.__dict__, "summary": summary_sentence(v)})


def summary_sentence(v: Verdict) -> str:
    """One sentence: the verdict, the figures and what they were measured on."""
    if v.gain is None:
        return f"No evidence that distillation helped: {v.reason}."
    assert v.distilled is not None and v.baseline is not None
    d, b = float(np.mean(v.distilled.test)), float(np.mean(v.baseline.test))
    split = "test" if v.split == "test" else "validation (no test split: optimistic, the search selected on it)"
    seeds = ", ".join(str(s) for s in v.seeds)
    plural = "" if v.baseline_trials == 1 else "s"
    same = ", the same student: " + ", ".join(f"{k}={x}" for k, x in v.student.items()) if v.student else ""
    figures = (
        f"{v.gain['mean']:+.4f} {split} accuracy, 95 % interval [{v.gain['low']:+.4f}, {v.gain['high']:+.4f}]: "
        f"distilled (trial #{v.distilled.trial}) {d:.4f} vs the student alone tuned over "
        f"{v.baseline_trials} baseline trial{plural} (baseline trial #{v.baseline.trial}{same}) {b:.4f}, "
        f"paired over student seeds {seeds} and {v.examples} examples"
    )
    if v.reason is not None:  # measured, but the comparison was not a fair one
        return f"No evidence that distillation helped: {v.reason} (measured: {figures})."
    head = {
        HELPED: "Distillation helped",
        HURT: "Distillation hurt",
        NO_EVIDENCE: "No evidence that distillation helped",
    }[v.verdict]
    return f"{head}: {figures}."
