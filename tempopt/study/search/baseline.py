"""The student alone, tuned like the distilled side: baseline trials and their own sampler.

A comparison with the student trained alone is only fair when the student gets its own search:
a few fixed learning rates against ~20 TPE trials would hand the distilled side a tuning
advantage and overstate the gain. So a share of the study's ``trials`` (``baseline_share``,
default 25 %, at least 5, never more than half) are baseline trials: ``kd_weight = 0``, user
attr ``baseline``, counted toward ``trials`` like any other.

They live in the sibling study ``NAME:baseline`` (:mod:`tempopt.study.stored`), made
with the study: the first ones are queued at the quarter points of the lr range (or
``baseline_lrs``), the rest are proposed by :class:`BaselineSampler` from the baseline trials'
own results. A baseline trial holds only the params the student alone uses (lr and the other
non-KD dimensions): never a temperature, a loss variant or a ``kd_weight``.

A study made before the sibling existed keeps its baselines among its own trials, queued with
``kd_weight`` fixed; :class:`BaselineRouter` keeps sampling them there when it resumes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from tempopt.study.optuna_internals import new_read, shared_read
from tempopt.study.search.metrics import accuracy_of
from tempopt.study.search.space import ask, distributions
from tempopt.study.spec.dimensions import Dimension
from tempopt.study.spec.losses import LOSS
from tempopt.study.spec.model import StudySpec
from tempopt.study.stored import MIN_BASELINES, is_baseline

KD_ONLY = ("temperature", "kd_weight")
"""Dimensions that mean nothing to the student alone."""


def baseline_count(spec: StudySpec, total: int | None = None) -> int:
    """How many of the study's ``trials`` (or of ``total`` trials) are baseline trials (0 with
    ``baseline: false``): ``baseline_share`` of them, at least 5, never more than half."""
    if not spec.baseline:
        return 0
    total = spec.trials if total is None else total
    return min(total // 2, max(MIN_BASELINES, math.ceil(spec.baseline_share * total)))


def few_baselines(spec: StudySpec) -> str | None:
    """A warning for a study whose ``trials`` give fewer baseline trials than a fair verdict needs
    (its verdict can then only be *no evidence*); None when they suffice or ``baseline`` is off."""
    n = baseline_count(spec)
    if not spec.baseline or n >= MIN_BASELINES:
        return None
    return (
        f"trials: {spec.trials} gives {n} baseline trial{'' if n == 1 else 's'} (the student alone), fewer than "
        f"the {MIN_BASELINES} that make it a fair rival, so the verdict can only be 'no evidence'; "
        f"use trials: {2 * MIN_BASELINES} or more for a verdict."
    )


def start_lrs(spec: StudySpec) -> list[float]:
    """Learning rates of the first baseline trials.

    ``baseline_lrs`` from the spec, else the quarter points of the searched lr range
    (log-spaced for a log range), so that the baseline's own sampler starts from a spread.
    No start for a fixed lr: every baseline trial trains with it, as every trial does.
    """
    if spec.baseline_lrs is not None:
        return list(spec.baseline_lrs)
    lr = spec.search.lr
    if not isinstance(lr, Dimension):
        return []
    if lr.choices is not None:
        return [float(c) for c in lr.choices if not isinstance(c, str)][:3]
    assert lr.low is not None and lr.high is not None
    if lr.log:
        return [lr.low * (lr.high / lr.low) ** q for q in (0.25, 0.5, 0.75)]
    return [lr.low + (lr.high - lr.low) * q for q in (0.25, 0.5, 0.75)]


def baseline_space(spec: StudySpec) -> dict[str, BaseDistribution]:
    """The distributions of a baseline trial's params: what the student alone uses (lr, and the
    other searched non-KD dimensions and task args), never T, λ, the loss variant or its args."""
    return {k: d for k, d in distributions(spec).items() if k not in KD_ONLY and k != LOSS and "." not in k}


def baseline_slots(spec: StudySpec) -> list[dict[str, Any]]:
    """The params of the baseline trials queued when the study is made, in order: a start lr
    each, with the middle of every other range of :func:`baseline_space` (the rest of the
    baseline's budget is proposed by :class:`BaselineSampler`)."""
    space = baseline_space(spec)
    middle = {name: _middle(d) for name, d in space.items() if name != "lr"}
    starts = [{**middle, "lr": lr} if "lr" in space else dict(middle) for lr in start_lrs(spec)]
    return starts[: baseline_count(spec)]


def suggest_baseline(trial: optuna.Trial, spec: StudySpec) -> dict[str, Any]:
    """Ask a baseline trial for every param of :func:`baseline_space` (its queued values, or the
    sampler's proposal)."""
    return {name: ask(trial, name, dist) for name, dist in baseline_space(spec).items()}


def _middle(d: BaseDistribution) -> Any:
    if isinstance(d, CategoricalDistribution):
        return d.choices[0]
    if isinstance(d, IntDistribution):
        value = math.sqrt(d.low * d.high) if d.log else (d.low + d.high) / 2
        return min(d.high, d.low + d.step * round((value - d.low) / d.step))
    assert isinstance(d, FloatDistribution)
    return math.sqrt(d.low * d.high) if d.log else (d.low + d.high) / 2


def propose(others: list[FrozenTrial], space: dict[str, BaseDistribution], seed: int, number: int) -> dict[str, Any]:
    """The params of baseline trial ``number`` over ``space``, from a fresh TPE sampler fed only by
    the ``others`` baseline trials (complete ones with their value, pruned ones with their curve,
    running ones as running, so that workers starting together spread out). Seeded by ``seed``
    and ``number``: a lone worker's study is the same on every host."""
    sampler = optuna.samplers.TPESampler(
        seed=(seed * 1_000_003 + number) % 2**31, n_startup_trials=2, constant_liar=True
    )
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "A new study created in memory"
    try:
        memory = optuna.create_study(direction="maximize", sampler=sampler)
    finally:
        optuna.logging.set_verbosity(level)
    for t in others:
        params = {k: v for k, v in t.params.items() if k in space}
        if set(params) != set(space):
            continue  # still being sampled
        dists = {k: space[k] for k in params}
        if t.state == TrialState.COMPLETE and accuracy_of(t) is not None:  # the baseline's own TPE: accuracy
            memory.add_trial(optuna.trial.create_trial(params=params, distributions=dists, value=accuracy_of(t)))
        elif t.state == TrialState.PRUNED and t.intermediate_values:
            memory.add_trial(
                optuna.trial.create_trial(
                    params=params,
                    distributions=dists,
                    state=TrialState.PRUNED,
                    intermediate_values=t.intermediate_values,
                )
            )
        elif t.state == TrialState.RUNNING:
            memory.add_trial(optuna.trial.create_trial(params=params, distributions=dists, state=TrialState.RUNNING))
    return memory.ask(space).params


class BaselineSampler(BaseSampler):
    """The sampler of a baseline sibling: each trial's params not fixed by its queue entry are
    proposed by :func:`propose` from the sibling's other trials (all of them baselines)."""

    def __init__(self, spec: StudySpec, seed: int) -> None:
        self._space = baseline_space(spec)
        self._seed = seed
        self._proposals: dict[int, dict[str, Any]] = {}

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return {}

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        if param_name not in self._space:
            raise ValueError(f"a baseline trial has no parameter {param_name!r}")
        if trial.number not in self._proposals:
            others = [t for t in study.get_trials(deepcopy=False) if t.number != trial.number]
            self._proposals[trial.number] = propose(others, self._space, self._seed, trial.number)
        return self._proposals[trial.number][param_name]

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None) -> None:
        self._proposals.pop(trial.number, None)


class BaselineRouter(BaseSampler):
    """A study made before the baseline sibling existed: the study's sampler for its distilled
    trials, :func:`propose` over its own baseline trials for the baseline ones.

    Their queue entries fix ``kd_weight`` (and the unused ``temperature``), which stay stored as
    they were; the objective asks a baseline trial only for its :func:`baseline_space`.
    """

    def __init__(self, inner: BaseSampler, spec: StudySpec, seed: int) -> None:
        self._inner = inner
        self._space = baseline_space(spec)
        self._seed = seed
        self._proposals: dict[int, dict[str, Any]] = {}

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        if is_baseline(trial):
            return {}
        new_read(study)  # this trial's one read of the study, shared by sample_relative
        return self._inner.infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if is_baseline(trial):
            return {}
        return self._inner.sample_relative(shared_read(study), trial, search_space)  # no second read of the study

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        if not is_baseline(trial) or param_name not in self._space:
            return self._inner.sample_independent(study, trial, param_name, param_distribution)
        if trial.number not in self._proposals:
            others = [t for t in study.get_trials(deepcopy=False) if is_baseline(t) and t.number != trial.number]
            self._proposals[trial.number] = propose(others, self._space, self._seed, trial.number)
        return self._proposals[trial.number][param_name]

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._inner.before_trial(study, trial)

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None) -> None:
        self._proposals.pop(trial.number, None)
        self._inner.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._inner.reseed_rng()
