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
