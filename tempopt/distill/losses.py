"""Distillation losses.

The loss tempopt optimises is

    (1 - kd_weight) * CE(student, targets) + kd_weight * T^2 * KL(softmax(teacher/T) || softmax(student/T))

with the KL divergence summed over classes and averaged over the batch (``batchmean``).
Both logits are divided by T, and the soft term is scaled by T^2 so that its gradient keeps
the same magnitude whatever T is (Hinton et al., 2015, section 2); without that, T and the
loss weight become entangled.

A loss variant (logit standardisation, a learned temperature, a schedule) is one subclass of
:class:`DistillLoss` registered with :func:`register_loss`; it only has to say how the soft
term is computed.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from tempopt.errors import SpecError


def soft_kd_term(student_logits: Tensor, teacher_logits: Tensor, temperature: float) -> Tensor:
    """``T^2 * KL(softmax(teacher/T) || softmax(student/T))``, averaged over the batch.

    Args:
        student_logits: ``(B, C)`` logits of the student.
        teacher_logits: ``(B, C)`` logits of the teacher; no gradient flows into them.
        temperature: the softening temperature T > 0.

    Returns:
        A scalar tensor.
    """
    log_p_student = F.log_softmax(student_logits.float() / temperature, dim=-1)  # (B, C)
    log_p_teacher = F.log_softmax(teacher_logits.detach().float() / temperature, dim=-1)  # (B, C)
    kl = F.kl_div(log_p_student, log_p_teacher, reduction="batchmean", log_target=True)
    return kl * temperature**2


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


class DistillLoss:
    """A distillation loss: a hard-label term and a soft teacher term mixed by ``kd_weight``.

    Subclasses override :meth:`soft_term` (and may add state, e.g. a learned temperature,
    through :meth:`parameters`).
    """

    name = "base"

    def soft_term(self, student_logits: Tensor, teacher_logits: Tensor, temperature: float) -> Tensor:
        """The teacher term, a scalar tensor averaged over the batch."""
        raise NotImplementedError

    def parameters(self) -> list[torch.nn.Parameter]:
        """Trainable parameters the loss adds to the student's optimiser (none by default)."""
        return []

    def __call__(
        self,
        student_logits: Tensor,
        teacher_logits: Tensor | None,
        targets: Tensor | None,
        temperature: float,
        kd_weight: float,
    ) -> Tensor:
        _check_args(temperature, kd_weight)
        student_logits = student_logits.float()  # (B, C); cast once (bf16 under autocast), not per term
        hard: Tensor | None = None  # (1 - λ) · CE
        soft: Tensor | None = None  # λ · T² · KL
        if kd_weight < 1.0:
            if targets is None:
                raise ValueError(f"targets are required when kd_weight={kd_weight} < 1")
            labelled = student_logits if len(targets) == len(student_logits) else student_logits[: len(targets)]
            hard = (1.0 - kd_weight) * F.cross_entropy(labelled, targets)
        if kd_weight > 0.0:
            if teacher_logits is None:
                raise ValueError(f"teacher_logits are required when kd_weight={kd_weight} > 0")
            soft = kd_weight * self.soft_term(student_logits, teacher_logits, temperature)
        # Summed without a zero tensor to start from: on the hot path every op is a kernel launch.
        if hard is None or soft is None:
            return hard if soft is None else soft  # type: ignore[return-value]
        return hard + soft


class KDLoss(DistillLoss):
    """Hinton et al.'s soft term: ``T^2 * KL(softmax(t/T) || softmax(s/T))``."""

    name = "kd"

    def soft_term(self, student_logits: Tensor, teacher_logits: Tensor, temperature: float) -> Tensor:
        return soft_kd_term(student_logits, teacher_logits, temperature)


def _check_args(temperature: float, kd_weight: float) -> None:
    if not 0 < temperature < math.inf:
        raise ValueError(f"temperature must be finite and > 0, got {temperature}")
    if not 0.0 <= kd_weight <= 1.0:
        raise ValueError(f"kd_weight must be in [0, 1], got {kd_weight}")


_LOSSES: dict[str, Callable[[], DistillLoss]] = {}


def register_loss(cls: type[DistillLoss]) -> type[DistillLoss]:
    """Class decorator that makes a loss variant selectable by its ``name``."""
    _LOSSES[cls.name] = cls
    return cls


def make_loss(name: str) -> DistillLoss:
    """A fresh instance of the loss registered as ``name``.

    Raises:
        SpecError: if no loss has that name.
    """
    if name not in _LOSSES:
        known = ", ".join(sorted(_LOSSES))
        raise SpecError(f"Unknown loss {name!r}; use one of: {known}.")
    return _LOSSES[name]()


def loss_names() -> list[str]:
    """Names of the registered loss variants."""
    return sorted(_LOSSES)


register_loss(KDLoss)
