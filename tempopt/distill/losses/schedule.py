"""``schedule``: Hinton's soft term at a temperature annealed over training.

T moves from ``t_start`` at the first step to ``t_end`` at the last, along a line or half a
cosine (flat at both ends). The soft term is ``kd``'s at the current T, T² included, so that
the gradient scale does not drift while T does; with ``t_start == t_end`` it is ``kd`` itself.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from tempopt.distill.losses._base import Arg, DistillLoss
from tempopt.distill.losses._registry import register_loss
from tempopt.distill.losses.kd import kd_soft


@register_loss
class ScheduledKD(DistillLoss):
    """``T²·KL(softmax(t/T) ‖ softmax(s/T))`` with T annealed from ``t_start`` to ``t_end``."""

    name = "schedule"
    args = {
        "t_start": Arg(8.0, low=0.0, high=100.0, low_open=True, help="T at the first step"),
        "t_end": Arg(2.0, low=0.0, high=100.0, low_open=True, help="T at the last step"),
        "shape": Arg("linear", choices=("linear", "cosine"), help="how T moves between them"),
    }
    uses_temperature = False

    def temperature_at(self, progress: float) -> Tensor:
        """``(K,)`` every member's T at ``progress`` (0 at the first step, 1 at the last)."""
        start, end = self.values["t_start"], self.values["t_end"]  # (K,)
        linear = start + (end - start) * progress
        cosine = end + (start - end) * ((1.0 + math.cos(math.pi * progress)) / 2.0)
        return torch.where(self.values["shape"] == 1, cosine, linear)

    def soft(
        self, student: Tensor, teacher: Tensor, targets: Tensor | None, temperature: Tensor, progress: float
    ) -> Tensor:
        return kd_soft(student, teacher.detach(), self.temperature_at(progress))
