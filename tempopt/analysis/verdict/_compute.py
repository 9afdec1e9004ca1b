"""A study's verdict, read from its search and its verification (read only), or why there is
none; and in a multi-objective study every verified config's own verdict."""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from tempopt.analysis.verdict._interval import N_BOOTSTRAP
from tempopt.analysis.verdict._rival import baseline_search, under_tuned
from tempopt.analysis.verdict._verdict import NO_EVIDENCE, Groups, Side, Verdict, compare, no_evidence, with_summary
from tempopt.study.search.metrics import accuracy_of, complete_with_accuracy, distils
from tempopt.study.stored import (
    CORRECT_ATTR,
    DISTILLED,
    PLAN_ATTR,
    RANK_ATTR,
    REPLICATE_ATTR,
    ROLE_ATTR,
    SEED_ATTR,
    baseline_trials,
    is_baseline,
    load_verification,
    spec_of,
)


def compute_verdict(study: optuna.Study, *, n_bootstrap: int = N_BOOTSTRAP) -> Verdict:
    """The verdict of a tempopt study (read only): from its verification, or why there is none."""
    spec = spec_of(study.user_attrs)
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
        return no_evidence(base, missing)
    if seeds_wanted == 0:
        return no_evidence(base, f"{off}, so the search's best validation values are not a measured gain")
    replicates = _finished_replicates(study)
    if isinstance(replicates, str):
        return no_evidence(base, replicates)
    groups = _groups(replicates)
    candidates = [(rank, g) for (role, rank), g in sorted(groups.items()) if role == DISTILLED]
    if not candidates:
        raise ValueError("verification has no distilled replicate")  # the plan always has one
    rank, _ = max(candidates, key=lambda c: float(np.mean([t.value for t in c[1].values()])))  # first on ties
    return _fair(compare(groups, rank, rival["trials"], n_bootstrap, _student_args(spec)), spec, baselines)


def member_verdicts(study: optuna.Study, *, n_bootstrap: int = N_BOOTSTRAP) -> dict[int, Verdict]:
    """Every verified distilled config's own verdict against its baseline, by its search trial
    (in a multi-objective study: each Pareto member against the student alone of its size)."""
    replicates = _finished_replicates(study)
    if isinstance(replicates, str):
        return {}
    spec = spec_of(study.user_attrs)
    baselines = baseline_trials(study)
    n_baselines = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in baselines)
    groups = _groups(replicates)
    out = {}
    for role, rank in sorted(groups):
        if role == DISTILLED:
            v = _fair(compare(groups, rank, n_baselines, n_bootstrap, _student_args(spec)), spec, baselines)
            assert v.distilled is not None
            out[int(v.distilled.trial)] = v  # type: ignore[arg-type]
    return out


def _fair(v: Verdict, spec: dict[str, Any], baselines: list[FrozenTrial]) -> Verdict:
    """``v``, or *no evidence* with the reason and the fix when its student alone was no fair
    rival (:func:`tempopt.analysis.verdict._rival.under_tuned`); the figures stay."""
    assert v.baseline is not None
    rival = baseline_search(spec, baselines, v.baseline.params.get("lr"))
    reason = under_tuned(rival, spec)
    verdict = NO_EVIDENCE if reason is not None else v.verdict
    return with_summary(Verdict(**{**v.__dict__, "verdict": verdict, "reason": reason, "baseline_search": rival}))


def _student_args(spec: dict[str, Any]) -> list[str]:
    return list((spec.get("search") or {}).get("task_args") or {})


def _finished_replicates(study: optuna.Study) -> dict[str, FrozenTrial] | str:
    """The complete replicates of the study's finished verification, or why there are none."""
    verification = load_verification(study)
    if verification is None:
        return "verification has not run yet (it starts when the search has its trials)"
    plan = verification.user_attrs.get(PLAN_ATTR) or []
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
        key = t.user_attrs.get(REPLICATE_ATTR)
        if isinstance(key, str) and key not in out and CORRECT_ATTR in t.user_attrs:
            out[key] = t
    return out


def _groups(replicates: dict[str, FrozenTrial]) -> Groups:
    """Replicates by (role, rank), then by student seed."""
    groups: Groups = {}
    for t in replicates.values():
        groups.setdefault((t.user_attrs[ROLE_ATTR], int(t.user_attrs[RANK_ATTR])), {})[int(t.user_attrs[SEED_ATTR])] = t
    return groups
