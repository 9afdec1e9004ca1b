"""Each command imports what it uses when it runs: ``--help`` imports neither optuna nor torch,
and the commands that only read or flag a study (``status``, ``studies``, ``export``, ``pause``,
``resume``, ``cancel``) never import torch. Each runs in a fresh process, as a user types it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import tempopt.cli  # noqa: F401  (registers every command)
from tempopt.cli.app import app
from tests.cli.conftest import tiny_spec

pytestmark = pytest.mark.integration

HEAVY = ("torch", "optuna", "optuna_dashboard", "sklearn")
PROBE = f"""
import json, sys
from tempopt.cli import main
sys.argv[1:] = json.loads(sys.argv.pop(1))
try:
    main()
finally:
    print("imported: " + json.dumps([m for m in {HEAVY} if m in sys.modules]), file=sys.stderr)
"""


def _command(args: list[str], cwd: Path) -> tuple[int, str, list[str]]:
    """``tempopt ARGS`` in a fresh interpreter: its exit code, output, and which of HEAVY it imported."""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps([str(a) for a in args])],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if not k.startswith("TEMPOPT_")},
        timeout=120,
    )
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("imported: "), proc.stderr
    return proc.returncode, proc.stdout + proc.stderr, json.loads(last.removeprefix("imported: "))


@pytest.fixture(scope="module")
def storage(tmp_path_factory) -> tuple[Path, str]:
    """A finished multi-objective study ``front`` (searched and verified) and a submitted one
    ``queued`` that no worker served, in one SQLite file."""
    tmp = tmp_path_factory.mktemp("startup")
    url = f"sqlite:///{tmp / 'studies.db'}"
    runner = CliRunner()
    front, queued = tmp / "front.yaml", tmp / "queued.yaml"
    small = {"trials": 4, "epochs": 2, "verify": {"top_k": 1, "seeds": 1}}
    front.write_text(yaml.safe_dump(tiny_spec(tmp, name="front", objectives=["accuracy", "params"], **small)))
    queued.write_text(yaml.safe_dump(tiny_spec(tmp, name="queued", trials=20)))
    for args in (["run", front, "--storage", url, "--quiet"], ["submit", queued, "--storage", url]):
        result = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    return tmp, url


def test_help_imports_neither_optuna_nor_torch(tmp_path):
    code, output, imported = _command(["--help"], tmp_path)
    assert code == 0 and "status" in output and "export" in output
    assert imported == []


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["status"], "front"),
        (["status", "--study", "front"], "verification: 2/2 replicates complete"),
        (["studies"], "queued"),
        (["export", "--study", "front", "--out", "best.yaml"], "wrote best.yaml"),
        (["export", "--study", "front", "--out", "pareto", "--pareto"], "wrote pareto/trial-"),
        (["pause", "queued"], "queued: open → paused"),
        (["resume", "queued"], "queued: paused → open"),
        (["cancel", "queued"], "queued: open → cancelled"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_reading_and_flagging_commands_never_import_torch(storage, args, shown):
    folder, url = storage
    code, output, imported = _command([*args, "--storage", url], folder)
    assert code == 0, output
    assert shown in " ".join(output.split())
    assert "torch" not in imported and "optuna_dashboard" not in imported


def test_the_probe_sees_torch_when_a_command_imports_it(storage, tmp_path):
    """``train`` retrains a student: the probe above must report torch there, or it proves nothing."""
    folder, url = storage
    code, output, _ = _command(["export", "--study", "front", "--out", "train.yaml", "--storage", url], folder)
    assert code == 0, output
    code, output, imported = _command(["train", folder / "train.yaml", "--out", tmp_path / "run"], folder)
    assert code == 0, output
    assert "torch" in imported
