"""From a study spec to Optuna: distributions, suggestions, sampler and pruner."""

from __future__ import annotations

from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from tempopt.study.dimensions import Dimension
from tempopt.study.optuna_compat import group_view
from tempopt.study.spec import StudySpec

INT_DIMENSIONS = {"batch_size"}


def distribution(name: str, dim: Dimension) -> BaseDistribution:
    """The Optuna distribution of one searched dimension."""
    if dim.choices is not None:
        return CategoricalDistribution(dim.choices)
    assert dim.low is not None and dim.high is not None
    if name in INT_DIMENSIONS:
        step = int(dim.step) if dim.step and not dim.log else 1
        return IntDistribution(int(dim.low), int(dim.high), log=dim.log, step=step)
    return FloatDistribution(dim.low, dim.high, log=dim.log, step=dim.step)


def distributions(spec: StudySpec) -> dict[str, BaseDistribution]:
    """Optuna distributions of every searched dimension, by parameter name."""
    return {name: distribution(name, dim) for name, dim in spec.search.dimensions().items()}


def suggest(trial: optuna.Trial, spec: StudySpec) -> dict[str, Any]:
    """Ask the trial for every searched parameter; names are ``temperature``, ``kd_weight``, ``lr``…"""
    params: dict[str, Any] = {}
    for name, dist in distributions(spec).items():
        if isinstance(dist, CategoricalDistribution):
            params[name] = trial.suggest_categorical(name, dist.choices)
        elif isinstance(dist, IntDistribution):
            params[name] = trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
        else:
            assert isinstance(dist, FloatDistribution)
            params[name] = trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
    return params


def make_sampler(spec: StudySpec, seed: int) -> optuna.samplers.BaseSampler:
    """The sampler named in the spec, seeded with ``seed``."""
    s = spec.sampler
    if s.name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if s.name == "qmc":
        return optuna.samplers.QMCSampler(seed=seed, scramble=True)
    if s.name == "gp":
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=s.startup_trials)
    return optuna.samplers.TPESampler(
        seed=seed, n_startup_trials=s.startup_trials, multivariate=s.multivariate, constant_liar=True
    )


def make_pruner(spec: StudySpec) -> optuna.pruners.BasePruner:
    """The pruner named in the spec; every pruner waits ``warmup_epochs`` before pruning."""
    p = spec.pruner
    if p.name == "none":
        return optuna.pruners.NopPruner()
    inner: optuna.pruners.BasePruner
    if p.name == "median":
        inner = optuna.pruners.MedianPruner(n_startup_trials=p.startup_trials)
    elif p.name == "successive_halving":
        inner = optuna.pruners.SuccessiveHalvingPruner(
            min_resource=p.min_resource, reduction_factor=p.reduction_factor
        )
    else:
        inner = optuna.pruners.HyperbandPruner(
            min_resource=p.min_resource, max_resource=spec.epochs, reduction_factor=p.reduction_factor
        )
    return _Warmup(inner, spec.warmup_epochs)


class _Warmup(optuna.pruners.BasePruner):
    """Never prunes before ``warmup_epochs`` epochs, then defers to the wrapped pruner, which
    sees only the trials of the same group: distilled trials are compared with distilled
    trials and baselines with baselines (the student alone learns on another curve, and a
    reference mixing both is lenient early and harsh late)."""

    def __init__(self, inner: optuna.pruners.BasePruner, warmup_epochs: int) -> None:
        self._inner = inner
        self._warmup = warmup_epochs

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or step <= self._warmup:
            return False
        return self._inner.prune(group_view(study, trial.user_attrs.get("baseline") is True), trial)
