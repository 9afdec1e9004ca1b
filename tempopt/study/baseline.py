"""The student alone, tuned like the distilled side: baseline trials and their own sampler.

A comparison with the student trained alone is only fair when the student gets its own search:
a few fixed learning rates against ~20 TPE trials would hand the distilled side a tuning
advantage and overstate the gain. So a share of the study's ``trials`` (``baseline_share``,
default 25 %, at least 5, never more than half) are baseline trials: ``kd_weight = 0``, user
attr ``baseline``, counted toward ``trials`` like any other.

They are queued when the study is created. The first ones start at the quarter points of the
lr range (or ``baseline_lrs``); the rest are queued with only ``kd_weight`` (and the unused
``temperature``) fixed, and :class:`BaselineRouter` samples their lr and the other non-KD
dimensions with a sampler fed only by the baseline trials' results, while the distilled
trials keep the study's own sampler.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from tempopt.study.dimensions import Dimension
from tempopt.study.objectives import accuracy_of
from tempopt.study.optuna_compat import new_read, shared_read
from tempopt.study.search import INT_DIMENSIONS, distributions
from tempopt.study.spec import StudySpec
from tempopt.study.variants import LOSS, arg_distributions

KD_ONLY = ("temperature", "kd_weight")
"""Dimensions that mean nothing to the student alone."""

MIN_BASELINES = 5


def baseline_count(spec: StudySpec) -> int:
    """How many of the study's ``trials`` are baseline trials (0 with ``baseline: false``)."""
    if not spec.baseline:
        return 0
    return min(spec.trials // 2, max(MIN_BASELINES, math.ceil(spec.baseline_share * spec.trials)))


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


def baseline_slots(spec: StudySpec) -> list[dict[str, Any]]:
    """The params each baseline trial is queued with, in order.

    The first ones are complete (a start lr, the middle of every other range); the rest fix
    only ``kd_weight = 0`` and ``temperature``, and the router samples the others.
    """
    fixed: dict[str, Any] = {"kd_weight": 0.0}
    if isinstance(spec.search.temperature, Dimension):
        fixed["temperature"] = spec.search.temperature.middle()
    if spec.search.loss is not None:  # the student alone has no variant: fix the first, and its args
        fixed[LOSS] = spec.search.loss.choices[0]
        fixed.update({name: _middle(d) for name, d in arg_distributions(spec, fixed[LOSS]).items()})
    middle: dict[str, Any] = {}
    for name, dim in spec.search.dimensions().items():
        value = dim.middle()
        middle[name] = int(round(value)) if name in INT_DIMENSIONS and not isinstance(value, str) else value
    count = baseline_count(spec)
    starts = [{**middle, **fixed, "lr": lr} for lr in start_lrs(spec)][:count]
    return starts + [dict(fixed) for _ in range(count - len(starts))]


def _middle(d: BaseDistribution) -> Any:
    if isinstance(d, CategoricalDistribution):
        return d.choices[0]
    assert isinstance(d, FloatDistribution)
    return math.sqrt(d.low * d.high) if d.log else (d.low + d.high) / 2


def is_baseline(trial: FrozenTrial) -> bool:
    """True for a baseline trial (user attr ``baseline``): the student alone."""
    return trial.user_attrs.get("baseline") is True


class BaselineRouter(BaseSampler):
    """The study's sampler for distilled trials; a baseline-only sampler for baseline trials.

    For a baseline trial, the params its queue entry does not fix are proposed by a fresh
    TPE sampler over an in-memory copy of the baseline trials alone (complete ones with their
    value, running ones as running, so that workers starting together spread out). The
    proposal is seeded by the study seed and the trial number: a lone worker's study is the
    same on every host.
    """

    def __init__(self, inner: BaseSampler, spec: StudySpec, seed: int) -> None:
        self._inner = inner
        self._space = {k: d for k, d in distributions(spec).items() if k not in KD_ONLY and k != LOSS and "." not in k}
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
            self._proposals[trial.number] = self._propose(study, trial)
        return self._proposals[trial.number][param_name]

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._inner.before_trial(study, trial)

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None) -> None:
        self._proposals.pop(trial.number, None)
        self._inner.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._inner.reseed_rng()

    def _propose(self, study: Study, trial: FrozenTrial) -> dict[str, Any]:
        others = [t for t in study.get_trials(deepcopy=False) if is_baseline(t) and t.number != trial.number]
        sampler = optuna.samplers.TPESampler(
            seed=(self._seed * 1_000_003 + trial.number) % 2**31, n_startup_trials=2, constant_liar=True
        )
        level = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "A new study created in memory"
        try:
            memory = optuna.create_study(direction="maximize", sampler=sampler)
        finally:
            optuna.logging.set_verbosity(level)
        for t in others:
            params = {k: v for k, v in t.params.items() if k in self._space}
            if set(params) != set(self._space):
                continue  # still being sampled
            if t.state == TrialState.COMPLETE and accuracy_of(t) is not None:  # the baseline's own TPE: accuracy
                memory.add_trial(
                    optuna.trial.create_trial(params=params, distributions=self._space_of(params), value=accuracy_of(t))
                )
            elif t.state == TrialState.PRUNED and t.intermediate_values:
                memory.add_trial(
                    optuna.trial.create_trial(
                        params=params,
                        distributions=self._space_of(params),
                        state=TrialState.PRUNED,
                        intermediate_values=t.intermediate_values,
                    )
                )
            elif t.state == TrialState.RUNNING:
                memory.add_trial(
                    optuna.trial.create_trial(
                        params=params, distributions=self._space_of(params), state=TrialState.RUNNING
                    )
                )
        return memory.ask(self._space).params

    def _space_of(self, params: dict[str, Any]) -> dict[str, BaseDistribution]:
        return {k: self._space[k] for k in params}
