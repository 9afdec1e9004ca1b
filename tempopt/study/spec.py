"""Study files: YAML, validated before anything touches the storage.

Every problem becomes one :class:`SpecError` sentence that names the key and the fix, and the
CLI exits with code 2.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tempopt.distill.losses import loss_names
from tempopt.errors import SpecError, TaskError
from tempopt.tasks import builtin_tasks
from tempopt.tasks._registry import check_task_args


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Dimension(_Strict):
    """One searched hyperparameter: a float or int range, or a list of choices."""

    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list[float | int | str] | None = None

    @model_validator(mode="after")
    def _check(self) -> Dimension:
        if self.choices is not None:
            if self.low is not None or self.high is not None:
                raise ValueError("give either choices or low/high, not both")
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
        return self

    def middle(self) -> float | int | str:
        """The centre of the range (geometric for log ranges), or the first choice."""
        if self.choices is not None:
            return self.choices[0]
        assert self.low is not None and self.high is not None
        return math.sqrt(self.low * self.high) if self.log else (self.low + self.high) / 2


class Search(_Strict):
    """The search space. ``temperature``, ``kd_weight`` and ``lr`` are required."""

    temperature: Dimension
    kd_weight: Dimension
    lr: Dimension
    weight_decay: Dimension | None = None
    batch_size: Dimension | None = None

    @field_validator("temperature")
    @classmethod
    def _positive_t(cls, d: Dimension) -> Dimension:
        if d.choices is None and (d.low is None or d.low <= 0):
            raise ValueError(f"low must be > 0 (a temperature), got {d.low}; use e.g. low: 1.0")
        return d

    @field_validator("kd_weight")
    @classmethod
    def _unit_interval(cls, d: Dimension) -> Dimension:
        values = d.choices if d.choices is not None else [d.low, d.high]
        if any(not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0 for v in values):
            raise ValueError("kd_weight must lie within [0, 1]; use low: 0.0 and high: 1.0")
        if d.log:
            raise ValueError("kd_weight cannot be log-scaled (it may be 0); set log: false")
        return d

    @field_validator("lr")
    @classmethod
    def _positive_lr(cls, d: Dimension) -> Dimension:
        if d.choices is None and (d.low is None or d.low <= 0):
            raise ValueError(f"low must be > 0 (a learning rate), got {d.low}; use e.g. low: 1.0e-4")
        return d

    def dimensions(self) -> dict[str, Dimension]:
        """Searched dimensions by Optuna parameter name, in a fixed order."""
        return {k: v for k, v in self if v is not None}


class Pruner(_Strict):
    """How trials that fall behind are stopped early."""

    name: Literal["median", "successive_halving", "hyperband", "none"] = "median"
    warmup_epochs: int | None = Field(default=None, ge=0)
    startup_trials: int = Field(default=5, ge=0)
    min_resource: int = Field(default=2, ge=1)
    reduction_factor: int = Field(default=3, ge=2)


class Sampler(_Strict):
    """Which Optuna sampler proposes the hyperparameters."""

    name: Literal["tpe", "random", "qmc", "gp"] = "tpe"
    startup_trials: int = Field(default=10, ge=0)
    multivariate: bool = True


class Failure(_Strict):
    """Heartbeats and retries for trials whose worker died."""

    heartbeat_interval: int = Field(default=60, ge=1)
    grace_period: int = Field(default=300, ge=2)
    max_retry: int = Field(default=3, ge=0)

    @model_validator(mode="after")
    def _grace(self) -> Failure:
        if self.grace_period <= self.heartbeat_interval:
            raise ValueError(
                f"grace_period={self.grace_period} must exceed heartbeat_interval="
                f"{self.heartbeat_interval}; use a grace period of several intervals"
            )
        return self


class Teacher(_Strict):
    """Overrides of the task's teacher; ``seed`` is the teacher's own (never the students')."""

    checkpoint: str | None = None
    epochs: int | None = Field(default=None, ge=0)
    lr: float | None = Field(default=None, gt=0)
    seed: int = Field(default=0, ge=0, lt=2**63)


class Verify(_Strict):
    """Retraining the best configs with fresh student seeds once the search budget is spent.

    The ``top_k`` distilled configs (by validation accuracy) and the best baseline are each
    trained with ``seeds`` student seeds; their held-out accuracies give the verdict.
    ``seeds: 0`` turns verification off (the verdict then says so).
    """

    top_k: int = Field(default=3, ge=1, le=20)
    seeds: int = Field(default=3, ge=0, le=20)


class StudySpec(_Strict):
    """A validated study file."""

    name: str = Field(min_length=1, max_length=200)
    task: str
    epochs: int = Field(ge=1)
    trials: int = Field(ge=1)
    search: Search
    task_args: dict[str, Any] = Field(default_factory=dict)
    seed: int = Field(default=0, ge=0, lt=2**62)
    batch_size: int = Field(default=128, ge=1)
    weight_decay: float = Field(default=0.0, ge=0)
    optimizer: Literal["adamw", "sgd"] = "adamw"
    schedule: Literal["cosine", "constant"] = "cosine"
    loss: str = "kd"
    device: str = "auto"
    mixed_precision: bool = True
    num_workers: int = Field(default=0, ge=0)
    cpu_threads: int | None = Field(default=None, ge=1)
    sampler: Sampler = Sampler()
    pruner: Pruner = Pruner()
    baseline: bool = True
    baseline_lrs: list[float] | None = Field(default=None, min_length=1, max_length=10)
    baseline_share: float = Field(default=0.25, gt=0.0, le=0.5)
    verify: Verify = Verify()
    storage: str | None = None
    cache_dir: str = ".tempopt-cache"
    artifacts: str | None = None
    teacher: Teacher = Teacher()
    failure: Failure = Failure()

    @field_validator("loss")
    @classmethod
    def _known_loss(cls, name: str) -> str:
        if name not in loss_names():
            raise ValueError(f"unknown loss {name!r}; use one of: {', '.join(loss_names())}")
        return name

    @field_validator("task")
    @classmethod
    def _task_form(cls, ref: str) -> str:
        if ref not in builtin_tasks() and ":" not in ref:
            raise ValueError(
                f"unknown task {ref!r}; use a built-in task ({', '.join(builtin_tasks())}) "
                "or 'package.module:make_task'"
            )
        return ref

    @model_validator(mode="after")
    def _pruner_warmup(self) -> StudySpec:
        if self.pruner.warmup_epochs is not None and self.pruner.warmup_epochs >= self.epochs:
            raise ValueError(
                f"pruner.warmup_epochs={self.pruner.warmup_epochs} leaves nothing to prune in "
                f"{self.epochs} epochs; lower it below epochs"
            )
        return self

    @model_validator(mode="after")
    def _baseline_lrs_in_range(self) -> StudySpec:
        lr = self.search.lr
        for value in self.baseline_lrs or []:
            if lr.low is not None and lr.high is not None and not lr.low <= value <= lr.high:
                raise ValueError(
                    f"baseline_lrs value {value:g} lies outside search.lr [{lr.low:g}, {lr.high:g}]; "
                    "move it into the range"
                )
        return self

    @property
    def warmup_epochs(self) -> int:
        """Epochs reported before any pruning (default: a quarter of the epochs)."""
        w = self.pruner.warmup_epochs
        return w if w is not None else max(1, self.epochs // 4)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for study attributes and exports (the storage URL left out)."""
        data = self.model_dump(mode="json")
        data.pop("storage", None)
        return data


def parse_spec(data: Any, source: str = "study file") -> StudySpec:
    """Validate already-loaded YAML data (and the task reference) into a StudySpec.

    Raises:
        SpecError: one sentence naming the key and the fix.
    """
    if not isinstance(data, dict):
        raise SpecError(f"{source} must be a YAML mapping of keys (name, task, epochs, trials, search).")
    try:
        spec = StudySpec.model_validate(data)
    except ValidationError as e:
        raise SpecError(f"{source}: {_describe(e)}.") from None
    try:
        check_task_args(spec.task, spec.task_args)
    except TaskError as e:
        raise SpecError(f"{source}: key 'task': {e}") from None
    return spec


def load_spec(path: str | Path) -> StudySpec:
    """Read and validate a study file.

    Raises:
        SpecError: missing file, bad YAML, or a bad key or value (one sentence).
    """
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"study file {str(path)!r} does not exist; give the path of a .yaml study file.")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        problem = getattr(e, "problem", None) or "invalid syntax"
        raise SpecError(f"{path} is not valid YAML{at} ({problem}); fix the syntax there.") from None
    return parse_spec(data, source=str(path))


def _describe(error: ValidationError) -> str:
    """The first validation problem as 'key 'a.b': what is wrong and the fix'."""
    first = error.errors()[0]
    loc = ".".join(str(p) for p in first["loc"] if not str(p).startswith("function-"))
    kind = first["type"]
    if kind == "extra_forbidden":
        return f"unknown key {loc!r}; remove it or check its spelling"
    if kind == "missing":
        return f"key {loc!r} is missing; add it"
    msg = first["msg"].removeprefix("Value error, ")
    return f"key {loc!r}: {msg}" if loc else msg
