"""The sections of a study file: ``pruner``, ``sampler``, ``failure``, ``teacher``, ``augment`` and
``verify``, each a small model with its defaults and limits (the whole file is :mod:`.model`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from tempopt.study.spec.dimensions import Float, Int, Seed, _Strict


class Pruner(_Strict):
    """How trials that fall behind are stopped early."""

    name: Literal["median", "successive_halving", "hyperband", "none"] = "median"
    warmup_epochs: Int | None = Field(default=None, ge=0)
    startup_trials: Int = Field(default=5, ge=0)
    min_resource: Int = Field(default=2, ge=1)
    reduction_factor: Int = Field(default=3, ge=2)


class Sampler(_Strict):
    """Which Optuna sampler proposes the hyperparameters."""

    name: Literal["tpe", "random", "qmc", "gp"] = "tpe"
    startup_trials: Int = Field(default=10, ge=0)
    multivariate: bool = True


class Failure(_Strict):
    """Heartbeats and retries for trials whose worker died."""

    heartbeat_interval: Int = Field(default=60, ge=1, le=86_400)  # a day: a longer wait overflows a timer
    grace_period: Int = Field(default=300, ge=2, le=604_800)  # a week
    max_retry: Int = Field(default=3, ge=0)

    @model_validator(mode="after")
    def _grace(self) -> Failure:
        if self.grace_period <= self.heartbeat_interval:
            raise ValueError(
                f"grace_period={self.grace_period} must exceed heartbeat_interval="
                f"{self.heartbeat_interval}; use a grace period of several intervals"
            )
        return self


class Teacher(_Strict):
    """Overrides of the task's teacher; ``seed`` is the teacher's own (never the students').

    ``views``: with a replayable augmentation, the teacher's logits are computed once on this
    many augmented views of every training and transfer example (the view bank; default: the
    study's ``epochs``, so no trial repeats a view of an example); ``0`` runs the teacher live
    on every augmented batch instead.
    """

    checkpoint: str | None = None
    epochs: Int | None = Field(default=None, ge=0)
    lr: Float | None = Field(default=None, gt=0)
    seed: Seed = 0
    views: Int | None = Field(default=None, ge=0, le=10_000)


class Augment(_Strict):
    """The built-in replayable augmentation of an image task (:mod:`tempopt.tasks.augmentation`):
    ``crop: P`` pads P pixels and crops at random, ``shift: K`` shifts by up to K pixels,
    ``flip: true`` flips horizontally at random. It replaces the task's own augmentation."""

    crop: Int | None = Field(default=None, ge=1, le=1024)
    shift: Int | None = Field(default=None, ge=1, le=1024)
    flip: bool = False

    @model_validator(mode="after")
    def _something(self) -> Augment:
        if not (self.crop or self.shift or self.flip):
            raise ValueError("augment sets no augmentation; give crop, shift or flip: true, or remove the key")
        return self


class Verify(_Strict):
    """Retraining the best configs with fresh student seeds once the search budget is spent.

    The ``top_k`` distilled configs (by validation accuracy) and the best baseline are each
    trained with ``seeds`` student seeds; their held-out accuracies give the verdict.
    ``seeds: 0`` turns verification off (the verdict then says so).
    """

    top_k: Int = Field(default=3, ge=1, le=20)
    seeds: Int = Field(default=3, ge=0, le=20)
