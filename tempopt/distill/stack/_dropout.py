"""Dropout whose masks come from the job's own generator, the same alone and in a batch.

``vmap`` cannot draw a random mask per member from a generator of ours (its random modes use
the global state, and a member's masks would depend on its neighbours), so the masks are drawn
outside the students' forward and handed to it: every ``nn.Dropout`` of the students' template
becomes a :class:`MemberDropout`, which multiplies by the next mask it is given. Which masks a
forward needs (each dropout call's input shape and dtype, in call order) is read once per input
shape by a forward that only records them.

Every member of a batch trains with the job seed, as its lone job does, so their generators
would draw the same masks step after step: one generator stands for all of them, and a member's
masks are those of its lone job whatever the other members are. The transfer batches draw from
a stream of their own, so that the labelled batches' masks are the same with or without them
(a member with λ = 0 trains as the student alone, which sees no transfer batch).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

DROPOUT_STREAMS = (6_700_417_001, 6_700_417_002)
"""Offsets of the dropout generators' seeds from the job seed: labelled batches, transfer batches."""

Plan = list[tuple["MemberDropout", torch.Size, torch.dtype]]


class MemberDropout(nn.Module):
    """``nn.Dropout`` with its keep-masks (already divided by ``1 - p``) given from outside."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p
        self.masks: list[Tensor] = []  # for the calls of the next forward, in call order
        self.plan: Plan | None = None  # set while a forward records what it needs

    def forward(self, x: Tensor) -> Tensor:  # (B, ...) -> (B, ...)
        if self.plan is not None:  # a recording forward (in eval mode, so that nothing else changes)
            if self.p > 0:
                self.plan.append((self, x.shape, x.dtype))
            return x
        if not self.training or self.p == 0:
            return x
        return x * self.masks.pop(0)


class DropoutMasks:
    """The masks of a template's :class:`MemberDropout` layers, drawn from the job's generator.

    Args:
        template: the students' template; its ``nn.Dropout`` layers are replaced in place until
            :meth:`restore`.
        seed: the job seed.
        device: where the masks are drawn.
    """

    def __init__(self, template: nn.Module, seed: int, device: torch.device) -> None:
        self._replaced = _replace_dropout(template)  # (parent, name, the nn.Dropout it replaced)
        self.layers = [getattr(parent, name) for parent, name, _ in self._replaced]
        self.generators = [torch.Generator(device=device).manual_seed(seed + s) for s in DROPOUT_STREAMS]
        self.device = device
        self._plans: dict[torch.Size, Plan] = {}

    def draw(self, x: Tensor, record: Callable[[Tensor], object], stream: int = 0) -> None:
        """Give every layer the masks of the next training forward on ``x``, from ``stream`` (0:
        labelled, 1: transfer); ``record(x)`` runs an eval-mode forward in which the layers only
        note their inputs (once per input shape)."""
        if not self.layers:
            return
        plan = self._plans.get(x.shape)
        if plan is None:
            plan = self._plans[x.shape] = self._record(x, record)
        generator = self.generators[stream]
        for layer, shape, dtype in plan:  # (B, ...) per call, shared by the members
            keep = torch.empty(shape, dtype=dtype, device=self.device).bernoulli_(1 - layer.p, generator=generator)
            layer.masks.append(keep.div_(1 - layer.p))

    def restore(self) -> None:
        """Put the template's own ``nn.Dropout`` layers back."""
        for parent, name, original in self._replaced:
            setattr(parent, name, original)

    def _record(self, x: Tensor, record: Callable[[Tensor], object]) -> Plan:
        plan: Plan = []
        for layer in self.layers:
            layer.plan = plan
        try:
            with torch.no_grad():
                record(x)
        finally:
            for layer in self.layers:
                layer.plan = None
        return plan


def _replace_dropout(module: nn.Module) -> list[tuple[nn.Module, str, nn.Module]]:
    """Replace every ``nn.Dropout`` under ``module`` by a :class:`MemberDropout` (in place)."""
    replaced: list[tuple[nn.Module, str, nn.Module]] = []
    for name, child in module.named_children():
        if type(child) is nn.Dropout:
            setattr(module, name, MemberDropout(child.p))
            replaced.append((module, name, child))
        else:
            replaced += _replace_dropout(child)
    return replaced
