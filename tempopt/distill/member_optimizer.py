"""The optimizer step of K stacked members and their lr schedule: AdamW or SGD-Nesterov,
vectorised over the members (a lone job is a batch of one).

Each member has its own learning rate (a ``(K,)`` tensor, scaled by the schedule's factor) and
its own optimizer state, and the step does what ``torch.optim.AdamW`` / ``SGD(momentum=0.9,
nesterov=True)`` do for one member alone. A loss variant's state (a learned temperature) covers
only its variant's members and takes no weight decay.
"""

from __future__ import annotations

import math
from typing import Protocol

import torch
from torch import Tensor

from tempopt.distill.config import JobConfig
from tempopt.errors import SpecError

ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
SGD_MOMENTUM = 0.9


def lr_factor(base: JobConfig, epoch: int) -> float:
    """The lr factor of ``epoch`` (0-based): cosine annealing to zero over the epochs, or 1.

    Raises:
        SpecError: the schedule is not known.
    """
    if base.schedule == "constant":
        return 1.0
    if base.schedule != "cosine":
        raise SpecError(f"schedule {base.schedule!r} is not known; use cosine or constant.")
    return (1 + math.cos(math.pi * epoch / max(base.epochs, 1))) / 2


class OptimizerState(Protocol):
    """What the step reads and updates: the running members' tensors, lr, slots and step count."""

    step: int
    lr: Tensor  # (K,) float64
    slots: dict[str, dict[str, Tensor]]

    def named(self) -> list[tuple[str, Tensor, Tensor | None]]: ...


class StackedOptimizer:
    """AdamW or SGD (Nesterov momentum 0.9) over stacked params, with per-member lr."""

    def __init__(self, base: JobConfig) -> None:
        if base.optimizer not in ("adamw", "sgd"):
            raise SpecError(f"optimizer {base.optimizer!r} is not known; use adamw or sgd.")
        self.kind = base.optimizer
        self.weight_decay = base.weight_decay

    @torch.no_grad()
    def step(self, state: OptimizerState, grads: tuple[Tensor | None, ...], factor: float) -> None:
        state.step += 1
        lr = state.lr * factor  # (K,) float64, as torch's schedulers keep lr as a Python float
        for (name, p, rows), g in zip(state.named(), grads, strict=True):
            if g is None:
                continue
            shape = (-1,) + (1,) * (p.dim() - 1)
            decay, lr_p = (self.weight_decay, lr) if rows is None else (0.0, lr.index_select(0, rows))
            if self.kind == "adamw":
                self._adamw(state, name, p, g, lr_p, shape, decay)
            else:
                self._sgd(state, name, p, g, lr_p, shape, decay)

    def _adamw(
        self, state: OptimizerState, name: str, p: Tensor, g: Tensor, lr: Tensor, shape: tuple[int, ...], decay: float
    ) -> None:
        beta1, beta2 = ADAM_BETAS
        slots = state.slots.setdefault(name, {"m": torch.zeros_like(p), "v": torch.zeros_like(p)})
        if decay:
            p.mul_((1 - lr * decay).to(p.dtype).view(shape))
        slots["m"].lerp_(g, 1 - beta1)
        slots["v"].mul_(beta2).addcmul_(g, g, value=1 - beta2)
        bias1 = 1 - beta1**state.step
        bias2_sqrt = math.sqrt(1 - beta2**state.step)
        step_size = (lr / bias1).to(p.dtype).view(shape)
        denom = (slots["v"].sqrt() / bias2_sqrt).add_(ADAM_EPS)
        p.sub_(step_size * (slots["m"] / denom))

    def _sgd(
        self, state: OptimizerState, name: str, p: Tensor, g: Tensor, lr: Tensor, shape: tuple[int, ...], decay: float
    ) -> None:
        if decay:
            g = g.add(p, alpha=decay)
        slots = state.slots.get(name)
        if slots is None:
            slots = state.slots[name] = {"buf": g.detach().clone()}
        else:
            slots["buf"].mul_(SGD_MOMENTUM).add_(g)
        update = g.add(slots["buf"], alpha=SGD_MOMENTUM)  # Nesterov
        p.sub_(lr.to(p.dtype).view(shape) * update)
