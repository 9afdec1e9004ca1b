"""Teacher checkpoints: a state_dict file read with ``weights_only=True`` and fitted to a model.

A file that holds code (pickled objects other than tensors and containers) is refused, never
unpickled. A checkpoint saved from ``DataParallel`` or ``DistributedDataParallel`` has every key
prefixed with ``module.``: the prefix is stripped, with a note. One that does not fit its model
names the keys that differ (a few of each kind), not torch's whole list.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from pathlib import Path

import torch
from torch import Tensor, nn

from tempopt.errors import TaskError

log = logging.getLogger(__name__)

SHOWN_KEYS = 5
"""Keys of each kind (missing, unexpected, of another shape) a misfit names."""
WRAPPER_PREFIX = "module."


def read_state_dict(path: Path, what: str = "teacher_checkpoint") -> tuple[dict[str, Tensor], str | None]:
    """The state_dict in ``path``, and a note when its ``module.`` prefix was stripped.

    A ``{"state_dict": ...}`` wrapper (a training script's checkpoint) is unwrapped.

    Args:
        path: the file.
        what: how the error names the file's setting (``teacher_checkpoint``, ``teacher.checkpoint``).

    Raises:
        TaskError: the file is missing, cannot be loaded with ``weights_only=True``, or holds no state_dict.
    """
    where = f"{what} {str(path)!r}"
    if not path.is_file():
        raise TaskError(f"{where} does not exist; give the path of a saved state_dict.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise TaskError(
            f"{where} cannot be loaded with weights_only=True ({_why_not_weights(e)}); "
            "save only the weights, with torch.save(model.state_dict(), path)."
        ) from e
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items()):
        raise TaskError(
            f"{where} holds a {type(state).__name__}, not a state_dict of tensors; "
            "save it with torch.save(model.state_dict(), path)."
        )
    if state and all(k.startswith(WRAPPER_PREFIX) for k in state):
        state = {k.removeprefix(WRAPPER_PREFIX): v for k, v in state.items()}
        return state, (
            f"{where} was saved from DataParallel or DistributedDataParallel (every key starts with "
            f"{WRAPPER_PREFIX!r}); it is loaded without that prefix."
        )
    return state, None


def load_weights(model: nn.Module, state: dict[str, Tensor], path: Path, owner: str, what: str) -> None:
    """Load ``state`` into ``model`` (strictly).

    Raises:
        TaskError: keys are missing or unexpected, or shapes differ; a few of each are named.
    """
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    reshaped = [
        f"{k} {tuple(state[k].shape)} in the file, {tuple(own[k].shape)} in the model"
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    parts = [
        f"{label}: {_few(keys)}"
        for label, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("other shapes", reshaped))
        if keys
    ]
    if not parts:
        try:
            model.load_state_dict(state)
            return
        except RuntimeError as e:  # a module's own load hook refused it
            parts = [str(e).strip().splitlines()[0]]
    raise TaskError(
        f"{what} {str(path)!r} does not fit {owner} ({'; '.join(parts)}); save the state_dict of the same architecture."
    )


def file_sha256(path: Path, what: str = "teacher_checkpoint") -> str:
    """The SHA-256 of a file's bytes (a checkpoint's part of the teacher's cache key)."""
    if not path.is_file():
        raise TaskError(f"{what} {str(path)!r} does not exist; give the path of a saved state_dict.")
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _few(keys: list[str]) -> str:
    shown = ", ".join(keys[:SHOWN_KEYS])
    return shown if len(keys) <= SHOWN_KEYS else f"{shown} and {len(keys) - SHOWN_KEYS} more"


def _why_not_weights(error: Exception) -> str:
    """The part of torch's long ``weights_only`` message that says what the file holds."""
    text = str(error)
    found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
    if found:
        return f"it holds code, {found.group(1)}, not only tensors"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def load_cache_entry(path: Path, key: str, what: str) -> dict | None:
    """The dict saved at ``path`` under ``key`` (a cached teacher, a view bank), or None when the
    file is missing, unreadable or another key's: such a file is rebuilt, never trusted."""
    if not path.exists():
        return None
    try:
        entry = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated or foreign file is rebuilt, not trusted
        log.warning("ignoring unreadable %s %s (%s)", what, path, e)
        return None
    if not isinstance(entry, dict) or entry.get("key") != key:
        log.warning("ignoring %s %s: its key does not match", what, path)
        return None
    return entry


def save_atomically(entry: object, path: Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename: readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(entry, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
