"""What the pre-flight's checks look at, and how they call the user's code."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from tempopt.errors import TaskError, TempoptError
from tempopt.study.spec.model import StudySpec
from tempopt.study.spec.task_fit import shape_only
from tempopt.tasks import Task
from tempopt.tasks._user_code import USER_FAILURES, raised, user_frames

SAMPLE = 4
"""Training inputs the models are run on."""


@dataclass
class Flight:
    """What the checks look at: the spec, its task, the device; the models, built once."""

    spec: StudySpec
    task: Task
    device: torch.device
    models: dict[str, nn.Module] = field(default_factory=dict)

    def model(self, role: str) -> nn.Module:
        """The task's ``teacher`` or ``student``, built once (the user's factory) and on the device.

        Its size is read first from a build on the ``meta`` device: a model whose parameters
        alone would not fit in the free memory is refused before any of it is allocated.
        """
        if role not in self.models:
            factory = self.task.teacher if role == "teacher" else self.task.student
            what = f"the {role} factory of task {self.task.name!r}"
            _check_size(shape_only(factory), f"the {role} of task {self.task.name!r}", self.device)
            built = user_call(factory, what, "fix the factory")
            if not isinstance(built, nn.Module):
                got = type(built).__name__
                raise TaskError(f"{what} returned a {got}, not a torch.nn.Module; return a fresh model.")
            self.models[role] = built.to(self.device).eval()
        return self.models[role]


def user_call(fn: Callable[..., Any], what: str, fix: str, *args: Any) -> Any:
    """``fn(*args)``; an exception it raises (``sys.exit`` too) becomes a TaskError with the user's frames."""
    try:
        return fn(*args)
    except TempoptError:
        raise
    except USER_FAILURES as e:
        raise TaskError(f"{what} {raised(e)}; {fix}.", user_frames(e)) from e


def _check_size(model: Any, who: str, device: torch.device) -> None:
    """Refuse a model whose parameters and buffers alone exceed the free memory it is built in."""
    if not isinstance(model, nn.Module):
        return
    tensors = [*model.parameters(), *model.buffers()]
    size = sum(t.numel() * t.element_size() for t in tensors)
    places = [torch.device("cpu")] + ([device] if device.type == "cuda" else [])  # built on the CPU, then moved
    known = [f for f in map(_free_memory, places) if f is not None]
    free = min(known) if known else None
    if free is None or size <= free:
        return
    count = sum(p.numel() for p in model.parameters())
    raise TaskError(
        f"{who} has {count:,} parameters ({_bytes(size)}), more than the {_bytes(free)} of memory free on "
        f"{device}; make the model smaller."
    )


def _free_memory(device: torch.device) -> int | None:
    """Bytes free on ``device`` (the CPU's available memory), or None if unknown."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            fields = dict(line.split(":", 1) for line in f)
        return int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def _bytes(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000
    raise AssertionError
