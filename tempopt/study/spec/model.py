"""Study files: YAML, validated before anything touches the storage.

Every problem becomes one :class:`SpecError` sentence that names the key and the fix, and the
CLI exits with code 2.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from tempopt.errors import SpecError, TaskError
from tempopt.study.spec.defaults import MAX_TRIALS
from tempopt.study.spec.dimensions import Dimension, Float, Int, Search, Seed, _Strict
from tempopt.study.spec.messages import describe
from tempopt.study.spec.reading import read_study_file
from tempopt.study.spec.sections import Augment, Failure, Pruner, Sampler, Teacher, Verify
from tempopt.tasks import builtin_tasks
from tempopt.tasks._registry import check_task_args

SPEC_JSON_LIMIT = 60_000
"""The spec is a study user attribute; MariaDB keeps those in a 64 KB TEXT column."""

Objective = Literal["accuracy", "params", "latency"]
STUDY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
"""Study names also name folders (the launcher's logs), so: no spaces, no slashes, no leading dot."""


class StudySpec(_Strict):
    """A validated study file."""

    name: str
    task: str
    epochs: Int = Field(ge=1)
    trials: Int = Field(ge=1, le=MAX_TRIALS)
    search: Search
    task_args: dict[str, Any] = Field(default_factory=dict)
    seed: Seed = 0
    batch_size: Int = Field(default=128, ge=1)
    weight_decay: Float = Field(default=0.0, ge=0)
    optimizer: Literal["adamw", "sgd"] = "adamw"
    schedule: Literal["cosine", "constant"] = "cosine"
    loss: str = "kd"
    loss_args: dict[str, Any] = Field(default_factory=dict)
    device: str = "auto"
    mixed_precision: bool = True
    num_workers: Int = Field(default=0, ge=0)
    batch_trials: Int = Field(default=1, ge=1, le=256)
    objectives: list[Objective] = Field(default_factory=lambda: list[Objective](["accuracy"]))
    cpu_threads: Int | None = Field(default=None, ge=1)
    sampler: Sampler = Sampler()
    pruner: Pruner = Pruner()
    baseline: bool = True
    baseline_lrs: list[Float] | None = Field(default=None, min_length=1, max_length=10)
    baseline_share: Float = Field(default=0.25, gt=0.0, le=0.5)
    verify: Verify = Verify()
    storage: str | None = None
    cache_dir: str | None = None
    artifacts: str | None = None
    teacher: Teacher = Teacher()
    augment: Augment | None = None
    failure: Failure = Failure()
    study_dir: str | None = None
    """The study file's folder, where its relative paths start (see :mod:`tempopt.study.spec.host`):
    set by :func:`load_spec`, stored with the study; None in a spec that was not read from a file."""

    @field_validator("name")
    @classmethod
    def _safe_name(cls, name: str) -> str:
        if not STUDY_NAME.fullmatch(name):
            raise ValueError(
                f"study name {name!r} may only hold letters, digits, '_', '.' and '-' (at most 100, the first a "
                "letter or digit) since it also names folders; rename it, e.g. 'my-study'"
            )
        return name

    @model_validator(mode="after")
    def _objectives(self) -> StudySpec:
        if (
            not self.objectives
            or self.objectives[0] != "accuracy"
            or len(self.objectives) > 2
            or (len(self.objectives) == 2 and self.objectives[1] == "accuracy")
        ):
            raise ValueError(
                f"objectives {self.objectives} must be [accuracy], or accuracy and one cost: "
                "[accuracy, params] or [accuracy, latency]"
            )
        return self

    @model_validator(mode="after")
    def _searched_task_args(self) -> StudySpec:
        taken = set(self.search.dimensions()) | set(self.search.fixed()) | {"loss"}
        for name in self.search.task_args or {}:
            if name in taken or "." in name:
                raise ValueError(
                    f"search.task_args.{name} would clash with the trial param {name!r}; search another task argument"
                )
        return self

    @property
    def multi_objective(self) -> bool:
        """True for ``objectives: [accuracy, params|latency]``."""
        return len(self.objectives) > 1

    @model_validator(mode="after")
    def _loss_fixed_or_searched(self) -> StudySpec:
        if self.search.loss is not None and (self.loss != "kd" or self.loss_args):
            raise ValueError(
                "give either loss/loss_args (one variant) or search.loss (a choice of variants), "
                "not both; put the variant's args under search.loss.NAME"
            )
        return self

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
        if not isinstance(lr, Dimension):
            if self.baseline_lrs is not None:
                raise ValueError(
                    f"baseline_lrs is given but search.lr is fixed at {lr:g}, which every trial uses, the "
                    "baseline's too; remove baseline_lrs or give search.lr a range"
                )
            return self
        for value in self.baseline_lrs or []:
            if lr.low is not None and lr.high is not None and not lr.low <= value <= lr.high:
                raise ValueError(
                    f"baseline_lrs value {value:g} lies outside search.lr [{lr.low:g}, {lr.high:g}]; "
                    "move it into the range"
                )
        return self

    @model_validator(mode="after")
    def _fits_a_study_attribute(self) -> StudySpec:
        try:
            data = self.to_dict()
        except ValueError:  # pydantic cannot serialise it, e.g. !!binary bytes that are not UTF-8
            raise ValueError(
                "key 'task_args' holds a value JSON cannot store; use numbers, strings, lists and mappings"
            ) from None
        size = len(json.dumps(data))
        if size > SPEC_JSON_LIMIT:
            biggest = max(data, key=lambda key: len(json.dumps(data[key])))
            raise ValueError(
                f"the spec takes {size:,} bytes as JSON, over the {SPEC_JSON_LIMIT:,}-byte limit of a study "
                f"attribute (a 64 KB TEXT column on MariaDB); shrink key {biggest!r}"
            )
        return self

    @property
    def teacher_views(self) -> int:
        """The views of the teacher's view bank: ``teacher.views``, else ``epochs``."""
        return self.epochs if self.teacher.views is None else self.teacher.views

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
        raise SpecError(f"{source}: {describe(e, StudySpec)}.") from None
    try:
        check_task_args(spec.task, spec.task_args)  # imports a task module, which may register variants
    except TaskError as e:
        raise SpecError(f"{source}: key 'task': {e}", e.details) from None
    from tempopt.study.spec.losses import check_losses  # the loss registry, with torch: only to check a spec
    from tempopt.study.spec.task_args import check_task_search

    check_task_search(spec, source)

    try:
        check_losses(spec)
    except SpecError as e:
        key = "search.loss" if spec.search.loss is not None else "loss"
        text = str(e)
        raise SpecError(f"{source}: {text if text.startswith('key ') else f'key {key!r}: {text}'}") from None
    return spec


def load_spec(path: str | Path) -> StudySpec:
    """Read and validate a study file; its folder becomes the spec's ``study_dir``.

    Raises:
        SpecError: missing file, bad YAML, or a bad key or value (one sentence).
    """
    data = read_study_file(Path(path))
    if isinstance(data, dict):
        if "study_dir" in data:
            raise SpecError(
                f"{path}: key 'study_dir' is set by tempopt (the study file's folder, where relative paths "
                "start); remove it."
            )
        data = {**data, "study_dir": str(Path(path).resolve().parent)}
    return parse_spec(data, source=str(path))
