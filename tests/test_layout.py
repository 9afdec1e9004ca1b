"""The layout rules the code base keeps, read from its source: what may import what."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "tempopt"
COMPAT = ROOT / "study" / "optuna_compat"
PRIVATE_USE = re.compile(r"\._(storage|study_id|trial_id|cached_frozen_trial|thread_local|backend)\b|SLF001")


def _modules(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _private_optuna(names: set[str]) -> set[str]:
    return {n for n in names if n.startswith("optuna.") and any(p.startswith("_") for p in n.split(".")[1:])}


def test_optuna_internals_are_used_only_in_the_compatibility_package():
    offenders = []
    for path in _modules(ROOT):
        if COMPAT in path.parents:
            continue
        private = _private_optuna(_imported(path))
        uses = [m.group(0) for m in PRIVATE_USE.finditer(path.read_text())]
        if private or uses:
            offenders.append(f"{path.relative_to(ROOT)}: {sorted(private) + uses}")
    assert not offenders, offenders


def test_the_compatibility_package_does_use_them():  # the rule above can fail: the scan finds them here
    found = [p for p in _modules(COMPAT) if _private_optuna(_imported(p)) or PRIVATE_USE.search(p.read_text())]
    assert len(found) >= 4


def test_the_training_code_never_imports_optuna():
    offenders = [
        str(p.relative_to(ROOT))
        for p in _modules(ROOT / "distill")
        if any(n == "optuna" or n.startswith("optuna.") for n in _imported(p))
    ]
    assert not offenders


CLOCK = re.compile(r"\bdatetime\.now\(|\.utcnow\(|\bfunc\.now\(|\bfunctions\.now\(|\b(?:date|datetime)\.today\(")
TIMESTAMPS = ROOT / "timestamps.py"


def test_every_clock_is_read_in_the_timestamps_module():
    """A trial's times are naive UTC in the database and naive local on a FrozenTrial: a module
    reading a clock of its own once wrote local time as UTC (the claim of a queued trial)."""
    offenders = [str(p.relative_to(ROOT)) for p in _modules(ROOT) if p != TIMESTAMPS and CLOCK.search(p.read_text())]
    assert not offenders
    assert len(CLOCK.findall(TIMESTAMPS.read_text())) >= 3  # the scan finds them there
