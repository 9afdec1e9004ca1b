"""Searched task arguments: ``search.task_args.NAME``, e.g. the student's width.

Each searched argument is a trial param named ``NAME`` that overrides ``task_args[NAME]`` for
that trial; an argument whose default in the task factory is an integer (or whose range is
whole numbers) is searched over integers. A trial's task is built from its own arguments, and
its teacher comes from the cache: the teacher's key covers its data, architecture and recipe, so
arguments that change only the student never retrain it.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from tempopt.errors import SpecError, TaskError
from tempopt.study.spec.dimensions import Dimension
from tempopt.tasks._registry import check_task_args, resolve_factory

if TYPE_CHECKING:  # parse_spec checks a spec with this module: StudySpec is only a type here
    from tempopt.study.spec.model import StudySpec


def task_arg_distributions(spec: StudySpec) -> dict[str, BaseDistribution]:
    """The searched task arguments' distributions, by trial param (the argument's name)."""
    dims = spec.search.task_args or {}
    if not dims:
        return {}
    defaults = _defaults(spec.task)
    return {name: _distribution(dim, defaults.get(name)) for name, dim in dims.items()}


def trial_task_args(spec: StudySpec, params: dict[str, Any]) -> dict[str, Any]:
    """``task_args`` with a trial's searched arguments put in."""
    searched = {name: params[name] for name in (spec.search.task_args or {}) if name in params}
    return {**spec.task_args, **searched}


def check_task_search(spec: StudySpec, source: str) -> None:
    """Every searched argument one the task takes, at both ends of its range.

    Raises:
        SpecError: naming ``search.task_args.NAME`` and the fix.
    """
    defaults = _defaults(spec.task)
    for name, dim in (spec.search.task_args or {}).items():
        try:
            dist = _distribution(dim, defaults.get(name))
        except SpecError as e:
            raise SpecError(f"{source}: key 'search.task_args.{name}': {e}") from None
        ends = dist.choices if isinstance(dist, CategoricalDistribution) else (dist.low, dist.high)  # type: ignore[attr-defined]
        for value in ends:
            try:
                check_task_args(spec.task, {**spec.task_args, name: value})
            except TaskError as e:
                raise SpecError(f"{source}: key 'search.task_args.{name}': {e}") from None


def _defaults(ref: str) -> dict[str, Any]:
    try:
        signature = inspect.signature(resolve_factory(ref))
    except (TypeError, ValueError, TaskError):
        return {}
    return {n: p.default for n, p in signature.parameters.items() if p.default is not inspect.Parameter.empty}


def _distribution(dim: Dimension, default: Any) -> BaseDistribution:
    if dim.choices is not None:
        return CategoricalDistribution(dim.choices)
    assert dim.low is not None and dim.high is not None
    whole = all(float(v).is_integer() for v in (dim.low, dim.high, dim.step or 1))
    integer = (isinstance(default, int) and not isinstance(default, bool)) or (default is None and whole)
    if integer:
        if not whole:
            raise SpecError(
                f"an integer task argument needs whole low, high and step, got {dim.low:g}..{dim.high:g}; round them"
            )
        step = int(dim.step) if dim.step and not dim.log else 1
        return IntDistribution(int(dim.low), int(dim.high), log=dim.log, step=step)
    return FloatDistribution(dim.low, dim.high, log=dim.log, step=dim.step)
