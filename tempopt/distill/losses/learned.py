"""``learned``: CTKD's temperature, learned adversarially (Li et al., 2023).

Each member has one learnable scalar θ and ``T = t_min + (t_max - t_min)·sigmoid(θ)``, which
keeps T inside ``(t_min, t_max)``. θ reaches the loss through a gradient-reversal layer: the
forward pass sees θ, the backward pass multiplies its gradient by ``-strength``. Descending the
total loss thus moves T so as to *raise* the KD term: the temperature makes the task harder
while the student learns to meet it. The strength follows a cosine curriculum, 0 at the first
step and ``grl_max`` once ``ramp`` of training has passed, so T starts fixed at ``t_init``.
The soft term is ``kd``'s at the learned T, T² included.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from tempopt.distill.losses._base import Arg, DistillLoss
from tempopt.distill.losses._registry import register_loss
from tempopt.distill.losses.kd import kd_soft
from tempopt.errors import SpecError


def reverse_gradient(x: Tensor, strength: Tensor) -> Tensor:
    """``x`` unchanged in the forward pass; its gradient times ``-strength`` in the backward.

    ``x - x.detach()`` is exactly 0 but carries ``x``'s gradient, so the value is exactly ``x``.
    """
    return x.detach() - strength * (x - x.detach())


@register_loss
class LearnedTemperatureKD(DistillLoss):
    """``T²·KL(softmax(t/T) ‖ softmax(s/T))`` at a per-member T learned through gradient reversal."""

    name = "learned"
    args = {
        "t_min": Arg(1.0, low=0.0, low_open=True, help="lowest T"),
        "t_max": Arg(20.0, low=0.0, low_open=True, help="highest T"),
        "t_init": Arg(4.0, low=0.0, low_open=True, help="T at the first step"),
        "grl_max": Arg(1.0, low=0.0, high=10.0, help="gradient-reversal strength after the ramp"),
        "ramp": Arg(0.5, low=0.0, high=1.0, low_open=True, help="share of training over which it grows"),
    }
    uses_temperature = False

    def __init__(
        self, members: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None = None, device: torch.device | str = "cpu"
    ) -> None:
        super().__init__(members, device)
        low, init, high = (self.values[k].tolist() for k in ("t_min", "t_init", "t_max"))
        for lo, t, hi in zip(low, init, high, strict=True):
            if not lo < t < hi:
                raise SpecError(
                    f"loss 'learned': t_init={t:g} must lie strictly between t_min={lo:g} and "
                    f"t_max={hi:g}; choose the three so that t_min < t_init < t_max."
                )

    def initial_state(self, values: dict[str, Tensor]) -> dict[str, Tensor]:
        """``theta`` ``(K,)``, the logit that puts every member's T at its ``t_init``."""
        share = (values["t_init"] - values["t_min"]) / (values["t_max"] - values["t_min"])  # (K,)
        return {"theta": torch.logit(share).requires_grad_(True)}

    def _temperature(self, theta: Tensor) -> Tensor:
        low, high = self.values["t_min"], self.values["t_max"]
        return low + (high - low) * torch.sigmoid(theta)

    def temperature(self) -> Tensor:
        """``(K,)`` every member's current T, detached."""
        return self._temperature(self._state["theta"].detach())

    def strength(self, progress: float) -> Tensor:
        """``(K,)`` the reversal strength: ``grl_max·(1 - cos(π·min(progress/ramp, 1)))/2``."""
        ramped = (progress / self.values["ramp"]).clamp(max=1.0)
        return self.values["grl_max"] * (1.0 - torch.cos(math.pi * ramped)) / 2.0

    def soft(
        self, student: Tensor, teacher: Tensor, targets: Tensor | None, temperature: Tensor, progress: float
    ) -> Tensor:
        theta = reverse_gradient(self._state["theta"], self.strength(progress))  # (K,)
        return kd_soft(student, teacher.detach(), self._temperature(theta))

    def learned(self) -> list[dict[str, float]]:
        return [{"learned_temperature": t} for t in self.temperature().tolist()]
