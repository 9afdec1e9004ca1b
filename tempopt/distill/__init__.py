"""The distillation engine: loss, teacher, training loop. Knows nothing of Optuna."""

from tempopt.distill.job import EpochCallback, JobConfig, JobResult, evaluate, fit, run_job
from tempopt.distill.losses import (
    DistillLoss,
    KDLoss,
    kd_loss,
    loss_names,
    make_loss,
    register_loss,
    soft_kd_term,
)
from tempopt.distill.teacher import DEFAULT_CACHE_DIR, Teacher, cache_key, prepare_teacher

__all__ = [
    "DEFAULT_CACHE_DIR",
    "DistillLoss",
    "EpochCallback",
    "JobConfig",
    "JobResult",
    "KDLoss",
    "Teacher",
    "cache_key",
    "evaluate",
    "fit",
    "kd_loss",
    "loss_names",
    "make_loss",
    "prepare_teacher",
    "register_loss",
    "run_job",
    "soft_kd_term",
]
