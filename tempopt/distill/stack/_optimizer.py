"""The optimizer step of K stacked members and their lr schedule: AdamW or SGD-Nesterov,
vectorised over the members (a lone job is a batch of one).

Each member has its own learning rate (a ``(K,)`` tensor, scaled by the schedule's factor) and
its own optimizer state, and the step does what ``torch.optim.AdamW`` / ``SGD(momentum=0.9,
nesterov=True)`` do for one member alone. A loss variant's state (a learned temperature) covers
only its variant's members and takes no weight decay.
"""

from __future__ import annotations

import math
from collections.abc import Callable
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
        """One step of every member: the stacked params in one vectorised update (their rows are
        the members, they decay), then each variant's state over its members' rows (no decay)."""
        state.step += 1
        lr = state.lr * factor  # (K,) float64, as torch's schedulers keep lr as a Python float
        stacked: list[tuple[str, Tensor, Tensor]] = []
        for (name, p, rows), g in zip(state.named(), grads, strict=True):
            if g is None:  # a variant's state that no member used this step
                continue
            if rows is None:
                stacked.append((name, p, g))
            else:
                self._update(state, [(name, p, g)], lr.index_select(0, rows), 0.0)
        if stacked:
            self._update(state, stacked, lr, self.weight_decay)

    def _update(self, state: OptimizerState, items: list[tuple[str, Tensor, Tensor]], lr: Tensor, decay: float) -> None:
        """Update ``(name, param (K, ...), grad)`` with the members' ``lr`` ``(K,)`` (foreach ops)."""
        names = [name for name, _, _ in items]
        params = [p for _, p, _ in items]
        grads = [g for _, _, g in items]

        def per_member(values: Tensor) -> list[Tensor]:  # (K,) -> one view per param, (K, 1, ...)
            values = values.to(params[0].dtype)
            return [values.view((-1,) + (1,) * (p.dim() - 1)) for p in params]

        if self.kind == "adamw":
            self._adamw(state, names, params, grads, lr, decay, per_member)
        else:
            self._sgd(state, names, params, grads, lr, decay, per_member)

    def _adamw(
        self,
        state: OptimizerState,
        names: list[str],
        params: list[Tensor],
        grads: list[Tensor],
        lr: Tensor,
        decay: float,
        per_member: Callable[[Tensor], list[Tensor]],
    ) -> None:
        beta1, beta2 = ADAM_BETAS
        slots = [
            state.slots.setdefault(n, {"m": torch.zeros_like(p), "v": torch.zeros_like(p)})
            for n, p in zip(names, params, strict=True)
        ]
        m, v = [s["m"] for s in slots], [s["v"] for s in slots]
        if decay:
            torch._foreach_mul_(params, per_member(1 - lr * decay))
        torch._foreach_lerp_(m, grads, 1 - beta1)
        torch._foreach_mul_(v, beta2)
        torch._foreach_addcmul_(v, grads, grads, value=1 - beta2)
        bias1 = 1 - beta1**state.step
        bias2_sqrt = math.sqrt(1 - beta2**state.step)
        denom = torch._foreach_sqrt(v)
        torch._foreach_div_(denom, bias2_sqrt)
        torch._foreach_add_(denom, ADAM_EPS)
        update = torch._foreach_div(m, denom)
        torch._foreach_mul_(update, per_member(lr / bias1))
        torch._foreach_sub_(params, update)

    def _sgd(
        self,
        state: OptimizerState,
        names: list[str],
        params: list[Tensor],
        grads: list[Tensor],
        lr: Tensor,
        decay: float,
        per_member: Callable[[Tensor], list[Tensor]],
    ) -> None:
        if decay:
            grads = list(torch._foreach_add(grads, params, alpha=decay))
        new = [n for n in names if n not in state.slots]
        for name, g in zip(names, grads, strict=True):  # the first step: the momentum is the gradient
            if name in new:
                state.slots[name] = {"buf": g.detach().clone()}
        old = [(state.slots[n]["buf"], g) for n, g in zip(names, grads, strict=True) if n not in new]
        if old:
            bufs = [b for b, _ in old]
            torch._foreach_mul_(bufs, SGD_MOMENTUM)
            torch._foreach_add_(bufs, [g for _, g in old])
        update = torch._foreach_add(grads, [state.slots[n]["buf"] for n in names], alpha=SGD_MOMENTUM)  # Nesterov
        torch._foreach_mul_(update, per_member(lr))
        torch._foreach_sub_(params, update)
