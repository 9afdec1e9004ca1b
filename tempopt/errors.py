"""The one exception hierarchy of tempopt.

Library code raises these; only the CLI turns them into a message and an exit code.
Every message is one sentence that names the bad key or value and says how to fix it.
"""

from __future__ import annotations

from collections.abc import Sequence


class TempoptError(Exception):
    """Base class of every error tempopt raises on purpose.

    Args:
        message: one sentence naming the bad key or value and the fix.
        details: lines shown under it, e.g. where the user's own code raised (file, line, code).
    """

    exit_code = 1

    def __init__(self, message: str = "", details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.details = tuple(details)


class SpecError(TempoptError):
    """A study file, exported config or task reference is malformed."""

    exit_code = 2


class StateError(TempoptError):
    """A command does not apply to the study as it stands (e.g. cancelling a finished one)."""

    exit_code = 2


class TaskError(TempoptError):
    """A task cannot be loaded or built."""

    exit_code = 2


class TrainingError(TempoptError):
    """A distillation job cannot go on (a NaN loss, a broken model)."""


class HostError(TempoptError):
    """The machine cannot do what was asked: a path cannot be written, a port is taken, a device
    is absent (the environment, not the input)."""

    exit_code = 3


class StorageError(TempoptError):
    """The study storage is unreachable, too old, or has no such study."""

    exit_code = 3
