"""Where the user's own code raised: the frames of an exception that lie in the user's files.

A task factory, a model or an augmentation function that raises is the user's bug to find. What
helps is where it raised in their files, not tempopt's or torch's frames around it: an error
about it shows one sentence, then these frames (file and line, and the line of code).
"""

from __future__ import annotations

import site
import sys
import sysconfig
import traceback
from functools import cache
from pathlib import Path

MAX_FRAMES = 8
"""The innermost user frames shown; a deeper stack is cut from the outside."""


def user_frames(error: BaseException) -> list[str]:
    """Two lines per frame of ``error``'s traceback in the user's files, innermost last:
    ``  at FILE:LINE in FUNCTION`` and the line of code. Empty when none is the user's."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if _is_users(f.filename)]
    lines = []
    for frame in frames[-MAX_FRAMES:]:
        lines.append(f"  at {frame.filename}:{frame.lineno} in {frame.name}")
        if frame.line:
            lines.append(f"      {frame.line.strip()}")
    return lines


def first_line(error: BaseException) -> str:
    """``Type: first line of the message`` (the type alone when the message is empty)."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _is_users(filename: str) -> bool:
    """True unless the file is generated (``<string>``) or lies in tempopt, the standard library
    or an installed package."""
    if filename.startswith("<"):
        return False
    path = Path(filename).resolve()
    return not any(path.is_relative_to(folder) for folder in _library_folders())


@cache
def _library_folders() -> tuple[Path, ...]:
    folders = {Path(__file__).resolve().parents[1]}  # tempopt itself, installed or a checkout
    bases: tuple[dict[str, str], ...] = ({}, {"base": sys.base_prefix, "platbase": sys.base_exec_prefix})
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        for base in bases:
            folders.add(Path(sysconfig.get_path(key, vars=base)).resolve())
    folders.update(Path(p).resolve() for p in site.getsitepackages() + [site.getusersitepackages()])
    import torch  # an editable or vendored torch lies outside site-packages

    folders.add(Path(torch.__file__).resolve().parent)
    return tuple(folders)
