"""Finding a loss variant by name: the registered ones, or a user's ``package.module:Class``.

Each variant's module registers its class with :func:`register_loss` when imported (the
package imports them all); a user's variant registers itself the same way, in a module the study
imports, or is named by its reference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from tempopt.distill.losses._base import DistillLoss
from tempopt.errors import SpecError
from tempopt.references import Kind, resolve
from tempopt.tasks._user_code import USER_FAILURES, raised, user_frames

_LOSSES: dict[str, type[DistillLoss]] = {}


def _is_variant(found: object) -> bool:
    return isinstance(found, type) and issubclass(found, DistillLoss)


LOSS: Kind[type[DistillLoss]] = Kind(
    noun="loss",
    form="package.module:Class",
    part="a class",
    accepts=_is_variant,
    expected="subclass of tempopt.distill.DistillLoss named",
    fix="define one",
    error=SpecError,
    failures=USER_FAILURES,
    frames=user_frames,
    raised=raised,
)


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
    return resolve(name, _LOSSES, LOSS)


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
