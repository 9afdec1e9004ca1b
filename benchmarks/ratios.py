"""Where a benchmark's ratios go besides the screen: ``--json PATH`` writes them for run_all.py."""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path
from typing import Any

import torch


def add_options(parser: argparse.ArgumentParser) -> None:
    """``--quick`` (CI-sized: a few seconds to a minute) and ``--json PATH``."""
    parser.add_argument("--quick", action="store_true", help="a CI-sized run: fewer repeats, trials and epochs")
    parser.add_argument("--json", type=Path, default=None, help="also write the ratios measured to this file")


def write(path: Path | None, name: str, ratios: dict[str, float], **details: Any) -> None:
    """Write ``{"benchmark", "ratios", "details", "machine"}`` to ``path`` (nothing without one)."""
    if path is None:
        return
    machine = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "cuda": torch.cuda.is_available(),
    }
    payload = {"benchmark": name, "ratios": ratios, "details": details, "machine": machine}
    path.write_text(json.dumps(payload, indent=2) + "\n")
