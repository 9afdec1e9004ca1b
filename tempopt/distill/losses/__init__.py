"""Distillation losses: ``(1 - kd_weight)·CE(student, targets) + kd_weight·soft(student, teacher)``.

The soft term is a variant, one small module each: ``kd`` (Hinton et al.'s ``T²·KL`` at one
temperature), ``schedule`` (T annealed over training), ``learned`` (CTKD's adversarially
learned T), ``standardized`` (z-scored logits), ``dkd`` (decoupled KD) and ``ttm`` (transformed
teacher matching). A study names one with ``loss: NAME`` and ``loss_args``, or searches over
them with ``search.loss``; a user's variant is named ``package.module:Class`` (a subclass of
:class:`DistillLoss`), or registered with :func:`register_loss` in a module the study imports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from tempopt.distill.losses._base import Arg, DistillLoss, all_targets, check_mix
from tempopt.distill.losses.kd import KDLoss, kd_soft, soft_kd_term
from tempopt.errors import SpecError
from tempopt.references import import_module_of

_LOSSES: dict[str, type[DistillLoss]] = {}


def register_loss(cls: type[DistillLoss]) -> type[DistillLoss]:
    """Class decorator that makes a loss variant selectable by its ``name``."""
    _LOSSES[cls.name] = cls
    return cls


def loss_names() -> list[str]:
    """Names of the registered loss variants."""
    return sorted(_LOSSES)


def loss_class(name: str) -> type[DistillLoss]:
    """The variant a study names: a registered name, or ``package.module:Class``.

    Raises:
        SpecError: one sentence naming what was not found and the expected form.
    """
    if name in _LOSSES:
        return _LOSSES[name]
    if ":" not in name:
        raise SpecError(
            f"unknown loss {name!r}; use one of: {', '.join(loss_names())}, "
            "or 'package.module:Class' for a variant of your own."
        )
    module_name = name.partition(":")[0]
    try:
        module, attr = import_module_of(name)
    except ImportError as e:
        raise SpecError(
            f"loss {name!r}: module {module_name!r} cannot be imported ({e}); check that it is "
            "on PYTHONPATH and of the form 'package.module:Class'."
        ) from e
    cls = getattr(module, attr, None)
    if not (isinstance(cls, type) and issubclass(cls, DistillLoss)):
        raise SpecError(
            f"loss {name!r}: module {module_name!r} has no subclass of tempopt.distill.DistillLoss "
            f"named {attr!r}; define one and name it as 'package.module:Class'."
        )
    return cls


def make_loss(
    name: str,
    members: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None = None,
    device: torch.device | str = "cpu",
) -> DistillLoss:
    """A fresh instance of the variant ``name``, for one member (a mapping of args) or several.

    Raises:
        SpecError: no such variant, or an arg it does not take or a value out of its range.
    """
    return loss_class(name)(members, device)


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


register_loss(KDLoss)

from tempopt.distill.losses import dkd, learned, schedule, standardized, ttm  # noqa: E402,I001  (they register)

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
