"""From a study spec to Optuna: distributions, suggestions, sampler and pruner."""

from __future__ import annotations

import warnings
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from tempopt.study.optuna_internals import group_view, prune
from tempopt.study.spec.dimensions import Dimension
from tempopt.study.spec.losses import LOSS, arg_distributions, loss_distribution, uses_temperature
from tempopt.study.spec.model import StudySpec
from tempopt.study.spec.task_args import task_arg_distributions
from tempopt.study.stored import is_baseline

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
    """Optuna distributions of every parameter a trial of the study may have, by name: the
    numeric dimensions, and with ``search.loss`` the ``loss`` choice and every variant's args."""
    out = {name: distribution(name, dim) for name, dim in spec.search.dimensions().items()}
    out.update(task_arg_distributions(spec))
    choice = loss_distribution(spec)
    if choice is not None:
        out[LOSS] = choice
        for name in spec.search.loss.choices:  # type: ignore[union-attr]
            out.update(arg_distributions(spec, name))
    return out


def active_distributions(spec: StudySpec, params: dict[str, Any]) -> dict[str, BaseDistribution]:
    """The parameters a trial with ``params`` has: its variant's args only, and the temperature
    only when its variant takes one."""
    variant = str(params.get(LOSS, spec.loss)) if spec.search.loss is not None else spec.loss
    space = {name: distribution(name, dim) for name, dim in spec.search.dimensions().items()}
    space.update(task_arg_distributions(spec))
    if not uses_temperature(variant):
        space.pop("temperature", None)
    choice = loss_distribution(spec)
    if choice is None:
        return space
    return {LOSS: choice, **space, **arg_distributions(spec, variant)}


def suggest(trial: optuna.Trial, spec: StudySpec) -> dict[str, Any]:
    """Ask the trial for every parameter it has; names are ``temperature``, ``kd_weight``, ``lr``…

    With ``search.loss`` the variant is asked first, so that the rest can depend on it. A
    dimension the study file fixes is no trial param: :func:`~tempopt.study.trial.objective.job_config`
    takes it from the spec. (A baseline trial, the student alone, is asked only for what it uses:
    :func:`tempopt.study.search.baseline.suggest_baseline`.)
    """
    params: dict[str, Any] = {}
    choice = loss_distribution(spec)
    if choice is not None:
        params[LOSS] = trial.suggest_categorical(LOSS, choice.choices)
    for name, dist in active_distributions(spec, params).items():
        if name not in params:
            params[name] = ask(trial, name, dist)
    return params


def ask(trial: optuna.Trial, name: str, dist: BaseDistribution) -> Any:
    """Ask ``trial`` for param ``name`` of distribution ``dist``."""
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    assert isinstance(dist, FloatDistribution)
    return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)


def make_sampler(spec: StudySpec, seed: int) -> optuna.samplers.BaseSampler:
    """The sampler named in the spec, seeded with ``seed``."""
    s = spec.sampler
    if s.name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if s.name == "qmc":
        return optuna.samplers.QMCSampler(seed=seed, scramble=True)
    if s.name == "gp":
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=s.startup_trials)
    with warnings.catch_warnings():  # `group` is "experimental" in Optuna 5: said once per sampler, not useful
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(  # group: a variant's args are modelled among that variant's trials
            seed=seed,
            n_startup_trials=s.startup_trials,
            multivariate=s.multivariate,
            constant_liar=True,
            group=s.multivariate and spec.search.loss is not None,
        )


def make_pruner(spec: StudySpec) -> optuna.pruners.BasePruner:
    """The pruner named in the spec; every pruner waits ``warmup_epochs`` before pruning."""
    p = spec.pruner
    if p.name == "none" or spec.multi_objective:  # Optuna cannot prune multi-objective studies
        return optuna.pruners.NopPruner()
    inner: optuna.pruners.BasePruner
    if p.name == "median":
        inner = optuna.pruners.MedianPruner(n_startup_trials=p.startup_trials)
    elif p.name == "successive_halving":
        inner = optuna.pruners.SuccessiveHalvingPruner(min_resource=p.min_resource, reduction_factor=p.reduction_factor)
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
        self._views: dict[bool, tuple[optuna.Study, optuna.Study]] = {}  # per group: (study, its view)

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or step <= self._warmup:
            return False
        baseline = is_baseline(trial)
        seen = self._views.get(baseline)
        if seen is None or seen[0] is not study:  # a view reads through its study: one per study is enough
            group = is_baseline if baseline else _distilled
            seen = self._views[baseline] = (study, group_view(study, group))
        return prune(self._inner, seen[1], trial)


def _distilled(trial: optuna.trial.FrozenTrial) -> bool:
    return not is_baseline(trial)
