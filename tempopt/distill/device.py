"""Choosing the device and the precision a job runs with."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from tempopt.errors import SpecError

TRAINABLE = ("cpu", "cuda", "mps")
"""The device types a job can train on."""


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when there is one, else the CPU; any other name is forced.

    Raises:
        SpecError: if CUDA is asked for but not available, or the name is not a device.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = parse_device(name)
    if device is not None and device.type == "cuda":
        if not torch.cuda.is_available():
            raise SpecError(f"device {name!r} was asked for but CUDA is not available; use auto or cpu.")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise SpecError(
                f"device {name!r} names GPU {device.index} but this host has {count} "
                f"(cuda:0 to cuda:{count - 1}); use one of those, or cuda."
            )
    assert device is not None
    return device


def parse_device(name: str) -> torch.device | None:
    """The torch device a name means without asking whether this host has it (None for ``auto``).

    Raises:
        SpecError: the name is not a device.
    """
    if name == "auto":
        return None
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError) as e:
        raise SpecError(f"device {name!r} is not a torch device; use auto, cpu or cuda[:N].") from e
    if device.type not in TRAINABLE:
        why = " (a meta tensor has a shape but no values)" if device.type == "meta" else ""
        raise SpecError(f"device {name!r} is not one tempopt trains on{why}; use auto, cpu or cuda[:N].")
    return device


@contextlib.contextmanager
def autocast(device: torch.device, enabled: bool = True) -> Iterator[None]:
    """bf16 autocast on CUDA (when enabled); a no-op on the CPU."""
    if enabled and device.type == "cuda":
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
            yield
    else:
        yield


def limit_cpu_threads(*limits: int | None) -> None:
    """Set torch's CPU threads to the smallest of the given limits (None or 0: no limit)."""
    given = [n for n in limits if n]
    if given:
        torch.set_num_threads(max(1, min(given)))
