"""The loss variant of a study: fixed (``loss``, ``loss_args``) or searched (``search.loss``).

With ``search.loss``, a trial first picks its variant (trial param ``loss``), then the
variant's searched args (trial params ``variant.arg``) and, when the variant takes one, the
temperature; every other variant's args are absent from that trial (conditional parameters,
which TPE models per variant). Args a study fixes, or leaves out, take their given or default
values. Checks that need the variant's class run here, once its module (a task module that
registers variants, or the ``package.module`` of ``package.module:Class``) is importable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution

from tempopt.distill.losses import DistillLoss, loss_class
from tempopt.errors import SpecError
from tempopt.study.spec.dimensions import Dimension

if TYPE_CHECKING:  # parse_spec checks a spec with this module: StudySpec is only a type here
    from tempopt.study.spec.model import StudySpec

LOSS = "loss"
"""The trial param that names a trial's variant when ``search.loss`` is given."""


def variant_names(spec: StudySpec) -> list[str]:
    """The variants a study's trials may use."""
    return list(spec.search.loss.choices) if spec.search.loss is not None else [spec.loss]


def check_losses(spec: StudySpec) -> None:
    """Every variant resolvable, every arg known and every value or range inside the arg's bounds.

    Raises:
        SpecError: one sentence naming the key and the fix.
    """
    if spec.search.loss is None:
        loss_class(spec.loss)(spec.loss_args)  # each arg, then what the variant checks of them together
        return
    for name in spec.search.loss.choices:
        cls = loss_class(name)
        given = spec.search.loss.args.get(name, {})
        fixed = {arg: v for arg, v in given.items() if not isinstance(v, Dimension)}
        for arg, value in given.items():
            where = f"search.loss.{name}.{arg}"
            if arg not in cls.args:
                known = ", ".join(sorted(cls.args)) or "none"
                raise SpecError(f"key {where!r}: loss {name!r} has no arg {arg!r}; its args are: {known}.")
            for v in _values(value):
                try:
                    cls.check_args({arg: v})
                except SpecError as e:
                    raise SpecError(f"key {where!r}: {e}") from None
        for arg, value in given.items():  # the args together, at each end of every searched range
            for v in _values(value) if isinstance(value, Dimension) else []:
                try:
                    cls({**fixed, arg: v})
                except SpecError as e:
                    raise SpecError(f"key 'search.loss.{name}.{arg}': {e}") from None
        if not any(isinstance(v, Dimension) for v in given.values()):
            cls(fixed)


def _values(value: Dimension | float | str) -> list[Any]:
    if not isinstance(value, Dimension):
        return [value]
    if value.choices is not None:
        return list(value.choices)
    return [value.low, value.high]


def uses_temperature(name: str) -> bool:
    """Whether the study's temperature feeds variant ``name``."""
    return loss_class(name).uses_temperature


def arg_distributions(spec: StudySpec, name: str) -> dict[str, BaseDistribution]:
    """The searched args of variant ``name``, by trial param (``name.arg``)."""
    if spec.search.loss is None:
        return {}
    out: dict[str, BaseDistribution] = {}
    for arg, value in spec.search.loss.args.get(name, {}).items():
        if isinstance(value, Dimension):
            if value.choices is not None:
                out[f"{name}.{arg}"] = CategoricalDistribution(value.choices)
            else:
                assert value.low is not None and value.high is not None
                out[f"{name}.{arg}"] = FloatDistribution(value.low, value.high, log=value.log, step=value.step)
    return out


def loss_distribution(spec: StudySpec) -> CategoricalDistribution | None:
    """The distribution of the ``loss`` trial param (None when the variant is not searched)."""
    return CategoricalDistribution(spec.search.loss.choices) if spec.search.loss is not None else None


def loss_settings(spec: StudySpec, params: dict[str, Any]) -> tuple[str, dict[str, Any], float | None]:
    """``(variant, its args, temperature or None)`` of a trial's params.

    The temperature is the searched one when the variant takes one and it was searched, the
    variant's default T when it takes one and none is searched, and None when it takes none.
    """
    name = str(params.get(LOSS, spec.loss)) if spec.search.loss is not None else spec.loss
    cls: type[DistillLoss] = loss_class(name)
    if spec.search.loss is None:
        args = dict(spec.loss_args)
    else:
        args = {arg: v for arg, v in spec.search.loss.args.get(name, {}).items() if not isinstance(v, Dimension)}
        args.update({p.partition(".")[2]: v for p, v in params.items() if p.startswith(f"{name}.")})
    if not cls.uses_temperature:
        return name, args, None
    temperature = params.get("temperature")
    return name, args, float(temperature) if temperature is not None else cls.default_temperature


def batch_refusal(spec: StudySpec) -> str | None:
    """Why the study's variants cannot train in a batched pass (None when they all can)."""
    for name in variant_names(spec):
        reason = loss_class(name).batch_refusal
        if reason is not None:
            return f"loss {name!r}: {reason}"
    return None
