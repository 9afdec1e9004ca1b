"""Where the user's own code raised: the frames of an exception that lie in the user's files.

A task factory, a model or an augmentation function that raises is the user's bug to find. What
helps is where it raised in their files, not tempopt's or torch's frames around it: an error
about it shows one sentence, then ``in your code:`` and these frames (file and line, and the line
of code). A syntax error's frame is the line it points at; ``sys.exit()`` in the user's code is
a failure like any other (:data:`USER_FAILURES`), never a silent exit of tempopt.
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

USER_FAILURES = (Exception, SystemExit)
"""What a call into the user's code may raise that is the user's failure (``KeyboardInterrupt``
and ``GeneratorExit`` are not)."""


def user_frames(error: BaseException) -> list[str]:
    """``in your code:``, then two lines per frame of ``error``'s traceback in the user's files,
    innermost last: ``  at FILE:LINE in FUNCTION`` and the line of code (a syntax error's own
    line last). Empty when none is the user's."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if _is_users(f.filename)]
    lines = []
    for frame in frames[-MAX_FRAMES:]:
        lines.append(f"  at {frame.filename}:{frame.lineno} in {frame.name}")
        if frame.line:
            lines.append(f"      {frame.line.strip()}")
    if isinstance(error, SyntaxError) and error.filename and _is_users(error.filename):
        lines.append(f"  at {error.filename}:{error.lineno}")
        if error.text and error.text.strip():
            lines.append(f"      {error.text.strip()}")
    return ["in your code:", *lines] if lines else []


def raised(error: BaseException) -> str:
    """What the user's code did, for a sentence: ``raised Type: message`` or ``called sys.exit(0)``."""
    return f"called {_exit_call(error)}" if isinstance(error, SystemExit) else f"raised {first_line(error)}"


def first_line(error: BaseException) -> str:
    """``Type: first line of the message`` (the type alone when the message is empty);
    ``sys.exit(0) was called`` for a ``SystemExit``."""
    if isinstance(error, SystemExit):
        return f"{_exit_call(error)} was called"
    if isinstance(error, SyntaxError) and error.msg:
        where = f" (line {error.lineno})" if error.lineno else ""
        return f"{type(error).__name__}: {error.msg}{where}"
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _exit_call(error: SystemExit) -> str:
    return "sys.exit()" if error.code is None else f"sys.exit({error.code!r})"


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
