"""The search space of a study file: dimensions, and numbers that refuse booleans.

Split from :mod:`tempopt.study.spec.model` (which re-exports these names): each dimension is checked
against what it feeds (a positive temperature and learning rate, a weight in [0, 1], a whole
batch size of at least 1) before anything touches the storage.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from tempopt.study.spec.defaults import SEED_LIMIT


def _no_bool(value: Any) -> Any:
    """Refuse ``true``/``false`` where a number belongs (pydantic's lax mode reads them as 1 and 0)."""
    if isinstance(value, bool):
        raise ValueError(
            f"expected a number, got {str(value).lower()}; write a number (YAML reads true, false, yes, no, "
            "on and off as booleans)"
        )
    return value


def _seed(value: Any) -> Any:
    if isinstance(_no_bool(value), (int, float)) and not 0 <= value < SEED_LIMIT:
        raise ValueError(f"a seed must be an integer with 0 <= seed < 2**62, got {value!r}; use e.g. 0")
    return value


Int = Annotated[int, BeforeValidator(_no_bool)]
Float = Annotated[float, BeforeValidator(_no_bool)]
Seed = Annotated[int, BeforeValidator(_seed)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Dimension(_Strict):
    """One searched hyperparameter: a float or int range, or a list of choices."""

    low: Float | None = None
    high: Float | None = None
    log: bool = False
    step: Float | None = None
    choices: list[Annotated[float | int | str, BeforeValidator(_no_bool)]] | None = None

    @model_validator(mode="after")
    def _check(self) -> Dimension:
        if self.choices is not None:
            if self.low is not None or self.high is not None or self.step is not None or self.log:
                raise ValueError("give either choices or low/high (with log or step), not both")
            if not self.choices:
                raise ValueError("choices must not be empty")
            return self
        if self.low is None or self.high is None:
            raise ValueError("needs both low and high (or a list of choices)")
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ValueError("low and high must be finite numbers")
        if self.low > self.high:
            raise ValueError(f"low={self.low:g} is greater than high={self.high:g}; swap them")
        if self.log and self.low <= 0:
            raise ValueError(f"log: true needs low > 0, got low={self.low:g}; raise low or set log: false")
        if self.log and self.step is not None:
            raise ValueError("step cannot be combined with log: true; drop one of them")
        if self.step is not None and not (math.isfinite(self.step) and 0 < self.step):
            raise ValueError(f"step must be > 0, got {self.step:g}; give a positive step or drop it")
        if self.step is not None and self.step > self.high - self.low:
            raise ValueError(
                f"step={self.step:g} is larger than high - low = {self.high - self.low:g}; "
                "lower the step or widen the range"
            )
        return self

    def middle(self) -> float | int | str:
        """The centre of the range (geometric for log ranges), or the first choice."""
        if self.choices is not None:
            return self.choices[0]
        assert self.low is not None and self.high is not None
        return math.sqrt(self.low * self.high) if self.log else (self.low + self.high) / 2


@dataclass(frozen=True)
class _Feeds:
    """What a searched dimension feeds, and so which values its ranges and choices may hold."""

    bounds: str  # as a message says it: "> 0", "within [0, 1]"
    allows: Callable[[float], bool]
    example: str  # "a temperature such as 4.0"
    integer: bool = False
    log: bool = True

    def fits(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        return self.allows(value) and (not self.integer or float(value).is_integer())

    def check_fixed(self, value: float) -> None:
        """Raise a ValueError when a fixed value is not one this dimension may take."""
        if not self.fits(value):
            kind = "an integer" if self.integer else "a number"
            raise ValueError(f"a fixed value must be {kind} {self.bounds}, got {value:g}; use {self.example}")

    def check(self, d: Dimension) -> None:
        """Raise a ValueError naming the first low, high, step or choice this dimension cannot take."""
        fix = f"use {self.example}"
        for choice in d.choices or []:
            if not self.fits(choice):
                kind = "integers" if self.integer else "numbers"
                raise ValueError(f"choices must be {kind} {self.bounds}, got {choice!r}; {fix}")
        for part, value in (("low", d.low), ("high", d.high)):
            if value is not None and not self.fits(value):
                kind = "an integer" if self.integer else "a number"
                raise ValueError(f"{part} must be {kind} {self.bounds}, got {value:g}; {fix}")
        if self.integer and d.step is not None and not d.step.is_integer():
            raise ValueError(f"step must be a whole number, got {d.step:g}; use e.g. step: 8")
        if d.log and not self.log:
            raise ValueError("log: true does not fit here (the value may be 0); set log: false")


_FEEDS = {
    "temperature": _Feeds("> 0", lambda v: v > 0, "a temperature such as 4.0"),
    "kd_weight": _Feeds("within [0, 1]", lambda v: 0 <= v <= 1, "a weight such as 0.5", log=False),
    "lr": _Feeds("> 0", lambda v: v > 0, "a learning rate such as 1e-3"),
    "weight_decay": _Feeds(">= 0", lambda v: v >= 0, "a weight decay such as 1e-4"),
    "batch_size": _Feeds(">= 1", lambda v: v >= 1, "a batch size such as 64", integer=True),
}


class LossSearch(_Strict):
    """``search.loss``: the loss variants to choose from, and under each variant's name its args,
    each a dimension (searched, trial param ``variant.arg``) or a value (fixed). An arg not given
    takes the variant's default. The variants' own checks run once their modules are imported
    (:func:`tempopt.study.spec.losses.check_losses`)."""

    choices: list[str] = Field(min_length=1)
    args: dict[str, dict[str, Dimension | Float | str]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _variants_beside_choices(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        rest = {k: v for k, v in data.items() if k not in ("choices", "args")}
        return {"choices": data.get("choices"), "args": {**data.get("args", {}), **rest}}

    @model_validator(mode="after")
    def _declared_variants_are_chosen(self) -> LossSearch:
        if len(set(self.choices)) != len(self.choices):
            raise ValueError("choices lists a variant twice; list each once")
        for name in self.args:
            if name not in self.choices:
                raise ValueError(
                    f"args are given for {name!r}, which is not among choices; add it to choices or remove its args"
                )
        return self

    @model_serializer(mode="wrap")
    def _as_written(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        return {"choices": data["choices"], **data.get("args", {})}


RANGE, FIXED = "<range>", "<fixed>"
"""How a search dimension was written, as the location of a validation error names it (and a
message leaves it out): a mapping searches it, a plain number fixes it."""


def _range_or_fixed(value: Any) -> str:
    return RANGE if isinstance(value, (dict, Dimension)) else FIXED


def _a_number_or_a_mapping(value: Any) -> Any:
    if isinstance(value, (dict, Dimension, bool, int, float)):
        return value  # booleans: refused by Float / Int in words of their own
    try:
        return float(value)  # YAML 1.1 reads 1e-3 (no dot) as a string
    except (TypeError, ValueError):
        pass
    raise ValueError(
        f"give a number (a fixed value) or a mapping such as {{low: 1.0e-4, high: 0.1}} (a searched range), "
        f"not {value!r}"
    )


DimensionOrFloat = Annotated[
    Annotated[Dimension, Tag(RANGE)] | Annotated[Float, Tag(FIXED)],
    Discriminator(_range_or_fixed),
    BeforeValidator(_a_number_or_a_mapping),
]
"""A searched dimension, or a plain number that fixes it (recorded in the spec, not a trial param)."""
DimensionOrInt = Annotated[
    Annotated[Dimension, Tag(RANGE)] | Annotated[Int, Tag(FIXED)],
    Discriminator(_range_or_fixed),
    BeforeValidator(_a_number_or_a_mapping),
]


class Search(_Strict):
    """The search space. ``kd_weight`` and ``lr`` are required; ``temperature`` feeds the variants
    that take one (without it they use their default T). Each of the five is a dimension, or a
    plain number that fixes it: the job uses it, Optuna never sees it (:meth:`fixed`)."""

    temperature: DimensionOrFloat | None = None
    kd_weight: DimensionOrFloat
    lr: DimensionOrFloat
    weight_decay: DimensionOrFloat | None = None
    batch_size: DimensionOrInt | None = None
    loss: LossSearch | None = None
    task_args: dict[str, Dimension] | None = None  # student args of the task, trial param NAME each

    @field_validator("temperature", "kd_weight", "lr", "weight_decay", "batch_size")
    @classmethod
    def _fits_what_it_feeds(cls, d: Dimension | float | None, info: ValidationInfo) -> Dimension | float | None:
        assert info.field_name is not None
        if isinstance(d, Dimension):
            _FEEDS[info.field_name].check(d)
        elif d is not None:
            _FEEDS[info.field_name].check_fixed(d)
            if info.field_name == "kd_weight" and d == 0:
                raise ValueError(
                    "a fixed kd_weight of 0 distils in no trial (the baseline trials are the student alone "
                    "already); fix it above 0, e.g. 0.5, or give a range"
                )
        return d

    @model_serializer(mode="wrap")
    def _without_loss_when_unsearched(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        for key in ("loss", "task_args"):  # as a study written before these existed stored it
            if data.get(key) is None:
                data.pop(key, None)
        return data

    def dimensions(self) -> dict[str, Dimension]:
        """Searched numeric dimensions by Optuna parameter name, in a fixed order (``loss`` and its
        args, which are conditional, are :mod:`tempopt.study.spec.losses`' business)."""
        return {k: v for k, v in self if isinstance(v, Dimension)}

    def fixed(self) -> dict[str, float | int]:
        """The dimensions the study file fixes with a plain number, by name: what every job uses
        where a trial has no param of that name."""
        return {k: v for k, v in self if k in _FEEDS and isinstance(v, (int, float))}
