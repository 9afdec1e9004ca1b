"""Args of three members for any registered loss variant, for the tests that iterate the registry.

A test module may pick a variant's members by hand (its edge cases: a zero weight, equal ends);
a variant it does not list gets members made from its declared args, so a newly registered
variant is tested with no edit here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tempopt.distill.losses import DistillLoss, loss_class
from tempopt.errors import SpecError

SCALES = (1.0, 0.5, 1.5)  # member k's numeric args: the default times SCALES[k]


def declared_members(cls: type[DistillLoss]) -> list[dict[str, Any]]:
    """Three members of ``cls``: the defaults, then every numeric arg scaled by 0.5 and by 1.5 and
    every choice moved on by one and two (an arg whose new value is out of its range keeps its
    default)."""
    members = []
    for k, scale in enumerate(SCALES):
        args: dict[str, Any] = {}
        for name, arg in cls.args.items():
            if arg.choices is not None:
                value: Any = arg.choices[(arg.choices.index(str(arg.default)) + k) % len(arg.choices)]
            else:
                value = float(arg.default) * scale
            try:
                arg.check(cls.name, name, value)
            except SpecError:
                value = arg.default
            args[name] = value
        members.append(args)
    return members


def members(name: str, by_hand: Mapping[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The three members of variant ``name``: ``by_hand[name]``, else made from its declared args."""
    return by_hand[name] if name in by_hand else declared_members(loss_class(name))
