"""The plan of a verification: which configs of a finished search are retrained, with which seeds.

Pure: it reads trials and the study file and returns :class:`Replicate` s; queueing and running
them is :mod:`tempopt.study.verification.worker`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from optuna.trial import FrozenTrial

from tempopt.study.search.metrics import accuracy_of, complete_with_accuracy, distils, front_of, spread
from tempopt.study.spec.model import StudySpec
from tempopt.study.stored import (
    BASELINE,
    DISTILLED,
    RANK_ATTR,
    REPLICATE_ATTR,
    ROLE_ATTR,
    SEED_ATTR,
    SOURCE_ATTR,
    is_baseline,
)


@dataclass(frozen=True)
class Replicate:
    """One retraining: a config of the search (``source_trial``) with one student seed."""

    role: str  # "distilled" or "baseline"
    rank: int  # 1 for the best distilled config by val, 2 for the next…; 0 for the baseline
    source_trial: int
    params: dict[str, Any]
    student_seed: int

    @property
    def key(self) -> str:
        return f"{self.role}-{self.rank}-seed{self.student_seed}"

    def user_attrs(self) -> dict[str, Any]:
        return {
            ROLE_ATTR: self.role,
            RANK_ATTR: self.rank,
            SOURCE_ATTR: self.source_trial,
            SEED_ATTR: self.student_seed,
            REPLICATE_ATTR: self.key,
        }


def student_seeds(spec: StudySpec) -> list[int]:
    """The student seeds of verification: new ones, never the search's own ``seed``."""
    return [spec.seed + 1 + i for i in range(spec.verify.seeds)]


def plan_replicates(
    trials: list[FrozenTrial], spec: StudySpec, baselines: list[FrozenTrial] | None = None
) -> list[Replicate]:
    """The replicates of a finished search: top-k distinct distilled configs (with ``search.loss``,
    and the best config of every variant among the rest) and the best baseline.

    Args:
        trials: the search study's trials.
        spec: the study file.
        baselines: the baseline sibling's trials (None: the baselines are among ``trials``, as in
            a study made before the sibling existed).
    """
    done = _ranked(trials if baselines is None else [t for t in trials if not is_baseline(t)] + baselines)
    if spec.multi_objective:
        return _plan_front(done, spec)
    configs: list[tuple[str, int, FrozenTrial]] = []
    seen: list[dict[str, Any]] = []
    distilled = [t for t in done if distils(t)]
    for t in distilled:
        if t.params in seen:
            continue
        seen.append(t.params)
        configs.append((DISTILLED, len(configs) + 1, t))
        if len(configs) == spec.verify.top_k:
            break
    if spec.search.loss is not None:  # every variant's best config too, so that variants compare verified
        for variant in spec.search.loss.choices:
            best = next((t for t in distilled if t.params.get("loss") == variant), None)
            if best is not None and best.params not in seen:
                seen.append(best.params)
                configs.append((DISTILLED, len(configs) + 1, best))
    baseline = next((t for t in done if is_baseline(t)), None)
    if baseline is not None:
        configs.append((BASELINE, 0, baseline))
    return [
        Replicate(role, rank, t.number, dict(t.params), seed)  # seed by seed: a seed's replicates can batch
        for seed in student_seeds(spec)
        for role, rank, t in configs
    ]


def _ranked(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    """Complete trials by validation accuracy, best first (the lower number first on ties)."""
    done = complete_with_accuracy(trials)
    done.sort(key=lambda t: (-float(accuracy_of(t)), t.number))  # type: ignore[arg-type]
    return done


def _plan_front(done: list[FrozenTrial], spec: StudySpec) -> list[Replicate]:
    """A multi-objective study's replicates: up to ``top_k`` members of the distilled Pareto front,
    spread along it (the most accurate and the cheapest first), each with a baseline of the same
    student (its searched task args): the best baseline trial with those args, or else the best
    baseline's other params with them. Distilled and baseline of rank r are compared."""
    front = front_of([t for t in done if distils(t)], spec.objectives)
    chosen = spread(front, spec.verify.top_k)
    baselines = [t for t in done if is_baseline(t)]
    names = list(spec.search.task_args or {})
    out: list[tuple[str, int, int, dict[str, Any]]] = []
    for rank, member in enumerate(chosen, start=1):
        out.append((DISTILLED, rank, member.number, dict(member.params)))
        student = {n: member.params[n] for n in names if n in member.params}
        same = next((b for b in baselines if all(b.params.get(n) == v for n, v in student.items())), None)
        if same is not None:
            out.append((BASELINE, rank, same.number, dict(same.params)))
        elif baselines:
            out.append((BASELINE, rank, baselines[0].number, {**baselines[0].params, **student}))
    return [
        Replicate(role, rank, source, params, seed)
        for seed in student_seeds(spec)
        for role, rank, source, params in out
    ]
