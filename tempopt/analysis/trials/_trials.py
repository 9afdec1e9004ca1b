"""Which trials an analysis uses, and the log10 view of them that importance evaluators see.

Only ``COMPLETE`` trials with a finite value are analysed: a pruned trial's last intermediate
value is the accuracy at an early epoch, not a final accuracy, so it is not comparable with the
others. Pruned, failed, running and waiting trials are counted and reported, never used.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from tempopt.study.search.metrics import distils
from tempopt.study.stored import BASELINE_ATTR

TEMPERATURE = "temperature"
KD_WEIGHT = "kd_weight"


@dataclass(frozen=True)
class TrialCounts:
    """How many trials of a study are in each state."""

    complete: int
    pruned: int
    failed: int
    running: int
    waiting: int

    @property
    def total(self) -> int:
        """All trials, whatever their state."""
        return self.complete + self.pruned + self.failed + self.running + self.waiting

    def describe(self) -> str:
        """One line such as ``40 trials: 32 complete, 6 pruned, 1 failed, 1 running``."""
        parts = [f"{self.complete} complete"]
        for count, label in (
            (self.pruned, "pruned"),
            (self.failed, "failed"),
            (self.running, "running"),
            (self.waiting, "waiting"),
        ):
            if count:
                parts.append(f"{count} {label}")
        return f"{self.total} trials: " + ", ".join(parts)


def count_trials(trials: Iterable[FrozenTrial]) -> TrialCounts:
    """Count trials per state."""
    states = [t.state for t in trials]
    return TrialCounts(
        complete=states.count(TrialState.COMPLETE),
        pruned=states.count(TrialState.PRUNED),
        failed=states.count(TrialState.FAIL),
        running=states.count(TrialState.RUNNING),
        waiting=states.count(TrialState.WAITING),
    )


def complete_trials(trials: Iterable[FrozenTrial]) -> list[FrozenTrial]:
    """The ``COMPLETE`` trials with a finite value, in trial-number order."""
    return [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None and math.isfinite(t.value)]


def is_baseline(trial: FrozenTrial) -> bool:
    """True for a trial the study runner marked as a no-distillation baseline.

    ``tempopt run`` enqueues a few baseline trials (``kd_weight = 0``, the middle of every
    other range, one per baseline learning rate), so the student alone gets a fair lr.
    """
    return trial.user_attrs.get(BASELINE_ATTR) is True


def is_distilled(trial: FrozenTrial) -> bool:
    """True for a trial that trained with distillation: ``kd_weight > 0`` (its own, or the study
    file's fixed one) and not a baseline."""
    return distils(trial)


def search_space(trials: Sequence[FrozenTrial]) -> dict[str, BaseDistribution]:
    """One distribution per param: the envelope of the ranges the trials were sampled from.

    A study whose range was widened between runs keeps every param (Optuna's own
    intersection search space would drop it). A param whose kind changed (a float that
    became categorical) is left out.
    """
    seen: dict[str, list[BaseDistribution]] = {}
    for trial in trials:
        for name, dist in trial.distributions.items():
            seen.setdefault(name, []).append(dist)
    space = {}
    for name, dists in sorted(seen.items()):
        merged = _merge(dists)
        if merged is not None:
            space[name] = merged
    return space


def _merge(dists: list[BaseDistribution]) -> BaseDistribution | None:
    first = dists[0]
    if any(type(d) is not type(first) for d in dists):
        return None
    if isinstance(first, CategoricalDistribution):
        choices: list[Any] = []
        for d in dists:
            choices.extend(c for c in d.choices if c not in choices)  # type: ignore[attr-defined]
        return CategoricalDistribution(choices)
    assert isinstance(first, (FloatDistribution, IntDistribution))
    low = min(d.low for d in dists)  # type: ignore[attr-defined]
    high = max(d.high for d in dists)  # type: ignore[attr-defined]
    log = all(d.log for d in dists)  # type: ignore[attr-defined]
    if isinstance(first, IntDistribution):
        return IntDistribution(int(low), int(high), log=log)
    return FloatDistribution(low, high, log=log)


def is_log(dist: BaseDistribution) -> bool:
    """True for a float or int distribution sampled on a log scale."""
    return isinstance(dist, (FloatDistribution, IntDistribution)) and dist.log


def position_in_range(value: float, dist: BaseDistribution) -> float | None:
    """Where ``value`` sits in a numeric range: 0 at ``low``, 1 at ``high``, log-scaled if log.

    Returns ``None`` for categorical or single-valued distributions.
    """
    if not isinstance(dist, (FloatDistribution, IntDistribution)) or dist.low == dist.high:
        return None
    low, high, x = float(dist.low), float(dist.high), float(value)
    if dist.log:
        low, high, x = math.log10(low), math.log10(high), math.log10(x)
    return (x - low) / (high - low)


def log10_view(
    trials: Sequence[FrozenTrial],
    space: dict[str, BaseDistribution],
    direction: StudyDirection = StudyDirection.MAXIMIZE,
) -> optuna.Study:
    """An in-memory copy of ``trials`` where log-scale params are replaced by their log10.

    Optuna's PED-ANOVA already works on the log of log-scale params, but fANOVA and
    mean-decrease-impurity pass raw values to their random forests (``transform_log=False``).
    A forest's splits do not care about a monotone transform, yet fANOVA's marginals are
    integrals over the range: on the raw scale ``lr`` in [1e-4, 1e-1] spends 90 % of its volume
    in the top decade. In the view, ``lr = 1e-3`` becomes ``lr = -3.0`` with a uniform
    distribution on [-4, -1], so all three evaluators weigh every decade alike. The copy is
    in memory: the real study is never written.

    Args:
        trials: complete trials (the caller filters them).
        space: the merged search space from :func:`search_space`.
        direction: the direction of the study the trials come from.
    """
    view_space = {name: _log10_distribution(dist) for name, dist in space.items()}
    with _quiet_optuna():  # no "A new study created in memory" line per resample
        study = optuna.create_study(direction=direction)
    for trial in trials:
        params = {
            name: (math.log10(value) if is_log(space[name]) else value)
            for name, value in trial.params.items()
            if name in space
        }
        study.add_trial(
            optuna.trial.create_trial(
                params=params,
                distributions={name: view_space[name] for name in params},
                value=trial.value,
            )
        )
    return study


def _log10_distribution(dist: BaseDistribution) -> BaseDistribution:
    if not is_log(dist):
        return dist
    assert isinstance(dist, (FloatDistribution, IntDistribution))
    return FloatDistribution(math.log10(dist.low), math.log10(dist.high))


@contextlib.contextmanager
def _quiet_optuna() -> Iterator[None]:
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(max(level, optuna.logging.WARNING))
    try:
        yield
    finally:
        optuna.logging.set_verbosity(level)
