"""Every member's loss in a batched pass: ``(1 - λ)·CE + λ·soft``, members grouped by variant.

Members of one batch may use different loss variants (a study that searches ``loss``): each
variant computes the soft term of its own members, on their rows of the stacked logits, from
the same teacher logits; a batch of one variant takes no indexing at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from tempopt.distill.losses import DistillLoss, all_targets, make_loss
from tempopt.distill.losses._base import mix


class MemberLoss:
    """The losses of K members: ``(K, N, C)`` logits -> ``(K,)``.

    Args:
        variants: each member's loss variant name, in stack order.
        loss_args: each member's variant args.
        temperature, kd_weight: ``(K,)`` the members' T and λ.
    """

    def __init__(
        self, variants: Sequence[str], loss_args: Sequence[Mapping[str, Any]], temperature: Tensor, kd_weight: Tensor
    ) -> None:
        device = temperature.device
        self.temperature, self.kd_weight = temperature, kd_weight
        self.groups: list[tuple[DistillLoss, Tensor]] = []  # (variant over its members, their rows)
        self.names: list[str] = list(dict.fromkeys(variants))
        for name in self.names:
            rows = [i for i, v in enumerate(variants) if v == name]
            variant = make_loss(name, [loss_args[i] for i in rows], device)
            self.groups.append((variant, torch.tensor(rows, dtype=torch.long, device=device)))
        self._rows = [r.tolist() for _, r in self.groups]
        self._order = self._inverse()
        self.needs_targets = any(v.needs_targets for v, _ in self.groups)

    def __call__(self, logits: Tensor, teacher: Tensor | None, targets: Tensor | None, progress: float) -> Tensor:
        """``(K,)`` losses (:func:`mix`); ``logits`` ``(K, N, C)`` float32, the first ``len(targets)`` rows labelled."""

        def soft(teacher: Tensor) -> Tensor:  # (N, C) -> (K,)
            classes = all_targets(targets, teacher) if self.needs_targets else None
            if len(self.groups) == 1:
                return self.groups[0][0].soft(logits, teacher, classes, self.temperature, progress)
            parts = [
                v.soft(logits.index_select(0, rows), teacher, classes, self.temperature.index_select(0, rows), progress)
                for v, rows in self.groups
            ]
            return torch.cat(parts).index_select(0, self._order)  # back to stack order

        return mix(logits, teacher, targets, self.kd_weight, soft)

    def state(self) -> dict[str, Tensor]:
        """Every variant's trainable state (``(K_variant, ...)``), by ``variant.name``."""
        return {
            f"{key}.{name}": t
            for key, (v, _) in zip(self.names, self.groups, strict=True)
            for name, t in v.state().items()
        }

    def state_rows(self) -> dict[str, Tensor]:
        """For every :meth:`state` tensor, the stack rows of the members it belongs to."""
        return {
            f"{key}.{name}": rows for key, (v, rows) in zip(self.names, self.groups, strict=True) for name in v.state()
        }

    def keep(self, rows: list[int]) -> dict[str, Tensor]:
        """Keep only the members at ``rows`` (positions in the current stack, in order).

        Returns:
            For every state tensor that remains (by :meth:`state`'s names), the positions it
            kept along its first dim: what an optimizer's slots for it must keep too.
        """
        position = {old: new for new, old in enumerate(rows)}
        device = self.temperature.device
        index = torch.tensor(rows, dtype=torch.long, device=device)
        self.temperature, self.kd_weight = self.temperature[index], self.kd_weight[index]
        groups, kept_rows, names, kept_state = [], [], [], {}
        for key, (variant, _), members in zip(self.names, self.groups, self._rows, strict=True):
            local = [i for i, m in enumerate(members) if m in position]
            if not local:
                continue
            local_index = torch.tensor(local, dtype=torch.long, device=device)
            variant.keep(local_index)
            kept_state.update({f"{key}.{name}": local_index for name in variant.state()})
            now = [position[members[i]] for i in local]
            groups.append((variant, torch.tensor(now, dtype=torch.long, device=device)))
            kept_rows.append(now)
            names.append(key)
        self.groups, self._rows, self.names = groups, kept_rows, names
        self._order = self._inverse()
        return kept_state

    def learned(self) -> list[dict[str, float]]:
        """What each member's variant learned (e.g. ``learned_temperature``), in stack order."""
        out: list[dict[str, float]] = [{} for _ in range(len(self.temperature))]
        for (variant, _), members in zip(self.groups, self._rows, strict=True):
            for row, values in zip(members, variant.learned(), strict=True):
                out[row] = values
        return out

    def _inverse(self) -> Tensor:
        flat = [row for rows in self._rows for row in rows]
        order = [0] * len(flat)
        for position, row in enumerate(flat):
            order[row] = position
        return torch.tensor(order, dtype=torch.long, device=self.temperature.device)
