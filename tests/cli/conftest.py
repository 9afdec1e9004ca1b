"""A tiny study file and a CLI runner for the command tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import tempopt.cli  # noqa: F401  (registers every command)
from tempopt.cli.app import app

ROOT = Path(__file__).resolve().parents[2]


def tiny_spec(tmp_path: Path, **overrides) -> dict:
    """A digits study that runs in a second or two."""
    spec = {
        "name": "tiny",
        "task": "digits",
        "task_args": {"labelled": 120, "student_hidden": 8, "teacher_hidden": 32},
        "epochs": 4,
        "trials": 6,
        "search": {
            "temperature": {"low": 1.0, "high": 20.0, "log": True},
            "kd_weight": {"low": 0.0, "high": 1.0},
            "lr": {"low": 1.0e-4, "high": 1.0e-1, "log": True},
        },
        "batch_size": 64,
        "seed": 0,
        "device": "cpu",
        "baseline_lrs": [1.0e-2],
        "teacher": {"epochs": 200, "lr": 0.01},
        "cache_dir": str(tmp_path / "cache"),
        "sampler": {"name": "tpe", "startup_trials": 3},
        "pruner": {"name": "none"},
        "verify": {"top_k": 2, "seeds": 2},
    }
    spec.update(overrides)
    return spec


def write_spec(tmp_path: Path, name: str = "study.yaml", **overrides) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(tiny_spec(tmp_path, **overrides), sort_keys=False))
    return path


@pytest.fixture
def cli():
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return invoke
