"""Did distillation help? The one verdict every command shows.

The search selects on the validation split with one student seed, so its best value is
optimistic (the winner's curse) and the epoch-to-epoch wobble of one run is far smaller than
the spread between seeds. The verdict therefore rests on verification only
(``tempopt.study.verify``): the distilled config with the best mean validation accuracy over
the fresh student seeds, against the best baseline config (the student alone, tuned by its own
search), both retrained with the same seeds and measured on the held-out test split.

The gain is the mean over seeds of the paired test-accuracy difference. Its 95 % interval is a
paired bootstrap over seeds and test examples: each resample draws seeds and examples with
replacement, the same draws for both sides, so the interval covers both the seed-to-seed spread
and the finite test set. *helped* only when the whole interval is above 0, *hurt* when below,
*no evidence* otherwise -- and also whenever verification is off, unfinished, or one side is
missing, with the reason said.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from tempopt.analysis.verdict._interval import N_BOOTSTRAP, paired_interval
from tempopt.analysis.verdict._rival import baseline_search, under_tuned
from tempopt.study.baseline_study import baseline_trials, is_baseline
from tempopt.study.objectives import accuracy_of, complete_with_accuracy, distils
from tempopt.study.per_example import decode_correct
from tempopt.study.verify_plan import BASELINE, DISTILLED
from tempopt.study.verify_record import load_verification

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


def compute_verdict(study: optuna.Study, *, n_bootstrap: int = N_BOOTSTRAP) -> Verdict:
    """The verdict of a tempopt study (read only): from its verification, or why there is none."""
    spec = study.user_attrs.get("spec") or {}
    seeds_wanted = int((spec.get("verify") or {}).get("seeds", 0))
    off = (
        "verification is off (verify.seeds: 0)"
        if "verify" in spec
        else "the study has no verification (written by an older tempopt)"
    )
    baselines = baseline_trials(study)
    unverified = _from_search([t for t in study.get_trials(deepcopy=False) if not is_baseline(t)], baselines)
    rival = baseline_search(spec, baselines)
    base: dict[str, Any] = {
        "split": "val",
        "seeds": [],
        "gain": None,
        "baseline_trials": rival["trials"],
        "baseline_search": rival,
        **unverified,
    }
    if unverified["distilled"] is None or unverified["baseline"] is None:
        missing = (
            "no distilled trial (kd_weight > 0) has completed"
            if unverified["distilled"] is None
            else "no baseline trial (the student alone) has completed: turn `baseline` on or raise `trials`"
        )
        return _no_evidence(base, missing)
    if seeds_wanted == 0:
        return _no_evidence(base, f"{off}, so the search's best validation values are not a measured gain")
    replicates = _finished_replicates(study)
    if isinstance(replicates, str):
        return _no_evidence(base, replicates)
    groups = _groups(replicates)
    candidates = [(rank, g) for (role, rank), g in sorted(groups.items()) if role == DISTILLED]
    if not candidates:
        raise ValueError("verification has no distilled replicate")  # the plan always has one
    rank, _ = max(candidates, key=lambda c: float(np.mean([t.value for t in c[1].values()])))  # first on ties
    return _fair(_compare(groups, rank, rival["trials"], n_bootstrap, _student_args(spec)), spec, baselines)


def member_verdicts(study: optuna.Study, *, n_bootstrap: int = N_BOOTSTRAP) -> dict[int, Verdict]:
    """Every verified distilled config's own verdict against its baseline, by its search trial
    (in a multi-objective study: each Pareto member against the student alone of its size)."""
    replicates = _finished_replicates(study)
    if isinstance(replicates, str):
        return {}
    spec = study.user_attrs.get("spec") or {}
    baselines = baseline_trials(study)
    n_baselines = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in baselines)
    groups = _groups(replicates)
    out = {}
    for role, rank in sorted(groups):
        if role == DISTILLED:
            v = _fair(_compare(groups, rank, n_baselines, n_bootstrap, _student_args(spec)), spec, baselines)
            assert v.distilled is not None
            out[int(v.distilled.trial)] = v  # type: ignore[arg-type]
    return out


def unverified_verdict(reason: str, baseline_trials: int = 0) -> Verdict:
    """A config's verdict when it has no verification of its own: no evidence, and why."""
    return _no_evidence(
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


def _fair(v: Verdict, spec: dict[str, Any], baselines: list[FrozenTrial]) -> Verdict:
    """``v``, or *no evidence* with the reason and the fix when its student alone was no fair
    rival (:func:`tempopt.analysis.verdict._rival.under_tuned`); the figures stay."""
    assert v.baseline is not None
    rival = baseline_search(spec, baselines, v.baseline.params.get("lr"))
    reason = under_tuned(rival, spec)
    verdict = NO_EVIDENCE if reason is not None else v.verdict
    return _with_summary(Verdict(**{**v.__dict__, "verdict": verdict, "reason": reason, "baseline_search": rival}))


def _student_args(spec: dict[str, Any]) -> list[str]:
    return list((spec.get("search") or {}).get("task_args") or {})


def _finished_replicates(study: optuna.Study) -> dict[str, FrozenTrial] | str:
    """The complete replicates of the study's finished verification, or why there are none."""
    verification = load_verification(study)
    if verification is None:
        return "verification has not run yet (it starts when the search has its trials)"
    plan = verification.user_attrs.get("plan") or []
    replicates = {k: t for k, t in _replicates(verification).items() if k in plan}
    if len(replicates) < len(plan) or not plan:
        return f"verification is not finished ({len(replicates)} of {len(plan)} replicates)"
    return replicates


def _from_search(search: list[FrozenTrial], baselines: list[FrozenTrial]) -> dict[str, Side | None]:
    """The best distilled and baseline trials of the search, by validation value."""

    def best(trials: list[FrozenTrial]) -> FrozenTrial | None:
        done = sorted(complete_with_accuracy(trials), key=lambda t: (-float(accuracy_of(t)), t.number))  # type: ignore[arg-type]
        return done[0] if done else None

    baseline = best(baselines)
    distilled = best([t for t in search if distils(t)])

    def side(t: FrozenTrial | None) -> Side | None:
        return None if t is None else Side(dict(t.params), t.number, [float(accuracy_of(t))], [])  # type: ignore[arg-type]

    return {"distilled": side(distilled), "baseline": side(baseline)}


def _replicates(verification: optuna.Study) -> dict[str, FrozenTrial]:
    """Complete replicates by key (the first one, should a retry also have completed)."""
    out: dict[str, FrozenTrial] = {}
    for t in verification.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        key = t.user_attrs.get("replicate")
        if isinstance(key, str) and key not in out and "test_correct" in t.user_attrs:
            out[key] = t
    return out


Groups = dict[tuple[str, int], dict[int, FrozenTrial]]


def _groups(replicates: dict[str, FrozenTrial]) -> Groups:
    """Replicates by (role, rank), then by student seed."""
    groups: Groups = {}
    for t in replicates.values():
        groups.setdefault((t.user_attrs["role"], int(t.user_attrs["rank"])), {})[int(t.user_attrs["student_seed"])] = t
    return groups


def _compare(groups: Groups, rank: int, n_baselines: int, n_bootstrap: int, student_args: list[str]) -> Verdict:
    """The distilled config of ``rank`` against its baseline, paired over seeds and examples."""
    best = groups[(DISTILLED, rank)]
    baseline = groups.get((BASELINE, rank), groups.get((BASELINE, 0)))  # multi-objective: the same student
    if baseline is None:
        raise ValueError("verification has no baseline replicate")
    seeds = sorted(set(best) & set(baseline))
    n = int(best[seeds[0]].user_attrs["test_examples"])
    d = np.stack([decode_correct(best[s].user_attrs["test_correct"], n) for s in seeds])  # (S, N)
    b = np.stack([decode_correct(baseline[s].user_attrs["test_correct"], n) for s in seeds])  # (S, N)
    mean, low, high = paired_interval(d, b, n_bootstrap)
    verdict = HELPED if low > 0 else HURT if high < 0 else NO_EVIDENCE
    split = str(best[seeds[0]].user_attrs.get("test_split", "test"))

    def side(g: dict[int, FrozenTrial]) -> Side:
        first = g[seeds[0]]
        return Side(
            dict(first.params),
            int(first.user_attrs["source_trial"]),
            [float(g[s].value) for s in seeds],  # type: ignore[arg-type]
            [float(g[s].user_attrs["test_accuracy"]) for s in seeds],
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
    return _with_summary(result)


def _no_evidence(base: dict[str, Any], reason: str) -> Verdict:
    v = Verdict(verdict=NO_EVIDENCE, summary="", reason=reason, **base)
    return _with_summary(v)


def _with_summary(v: Verdict) -> Verdict:
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
