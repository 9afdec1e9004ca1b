"""Distillation losses: ``(1 - kd_weight)·CE(student, targets) + kd_weight·soft(student, teacher)``.

The soft term is a variant, one small module each: ``kd`` (Hinton et al.'s ``T²·KL`` at one
temperature), ``schedule`` (T annealed over training), ``learned`` (CTKD's adversarially
learned T), ``standardized`` (z-scored logits), ``dkd`` (decoupled KD) and ``ttm`` (transformed
teacher matching). A study names one with ``loss: NAME`` and ``loss_args``, or searches over
them with ``search.loss``; a user's variant is named ``package.module:Class`` (a subclass of
:class:`DistillLoss`), or registered with :func:`register_loss` in a module the study imports.
The registry is :mod:`tempopt.distill.losses._registry`; each variant's module registers
itself there.
"""

from __future__ import annotations

from torch import Tensor

# The variants register themselves in the registry when imported: every one is imported here.
from tempopt.distill.losses import dkd, learned, schedule, standardized, ttm
from tempopt.distill.losses._base import Arg, DistillLoss, all_targets, check_mix
from tempopt.distill.losses._registry import loss_class, loss_names, make_loss, register_loss
from tempopt.distill.losses.kd import KDLoss, kd_soft, soft_kd_term


def kd_loss(
    student_logits: Tensor,
    teacher_logits: Tensor | None,
    targets: Tensor | None,
    temperature: float,
    kd_weight: float,
) -> Tensor:
    """The knowledge-distillation loss of Hinton et al. (2015).

    Args:
        student_logits: ``(B, C)`` student logits.
        teacher_logits: ``(B, C)`` teacher logits; may be None when ``kd_weight == 0``.
        targets: ``(B,)`` class indices; may be None when ``kd_weight == 1``.
        temperature: T > 0, applied to both teacher and student logits.
        kd_weight: λ in [0, 1], the weight of the soft (teacher) term.

    Returns:
        A scalar tensor: ``(1 - λ) * CE + λ * T^2 * KL``. With λ = 0 it equals cross-entropy.
        When ``student_logits`` has more rows than ``targets`` (a labelled batch followed by a
        transfer batch), CE averages over the first ``len(targets)`` rows, the KL over all.

    Raises:
        ValueError: if a term that has weight is missing its input, or T/λ are out of range.
    """
    return KDLoss()(student_logits, teacher_logits, targets, temperature, kd_weight)


__all__ = [
    "Arg",
    "DistillLoss",
    "KDLoss",
    "all_targets",
    "check_mix",
    "dkd",
    "kd_loss",
    "kd_soft",
    "learned",
    "loss_class",
    "loss_names",
    "make_loss",
    "register_loss",
    "schedule",
    "soft_kd_term",
    "standardized",
    "ttm",
]
