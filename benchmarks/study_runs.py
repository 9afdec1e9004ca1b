"""Running a study file as a user would, for the benchmarks: ``tempopt run`` on a fresh SQLite file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import optuna
import yaml


def run_study(spec: dict[str, Any], folder: Path) -> optuna.Study:
    """Write ``spec`` to ``folder``, run ``tempopt run`` on it (search and verification, quiet) and
    return the study, read from its own SQLite file."""
    name = spec["name"]
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    url = f"sqlite:///{folder / (name + '.db')}"
    cmd = [sys.executable, "-m", "tempopt", "run", str(path), "--storage", url, "-q"]
    subprocess.run(cmd, check=True, capture_output=True, cwd=folder)
    return optuna.load_study(study_name=name, storage=url)
