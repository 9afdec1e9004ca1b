"""The README's examples are the shipped files, and they run."""

from __future__ import annotations

import re
from pathlib import Path

import optuna
from typer.testing import CliRunner

import tempopt.cli  # noqa: F401
from tempopt.cli.app import app
from tempopt.study.baseline_study import all_trials

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 1)
    return README[start : end if end > 0 else None]


def test_bring_your_own_task_example_is_the_shipped_file():
    section = _section("Bring your own task")
    python = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    yaml_block = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    source = (ROOT / "examples" / "my_task.py").read_text()
    assert python.strip() == source[source.index("import torch") :].strip()
    assert yaml_block.strip() == (ROOT / "examples" / "my_task.yaml").read_text().strip()


def _run_example(tmp_path, monkeypatch, extra: str = ""):
    """``tempopt run`` on the shipped example study (6 trials), its module found from the repository root."""
    monkeypatch.chdir(ROOT)
    url = f"sqlite:///{tmp_path / 'blobs.db'}"
    spec = tmp_path / "blobs.yaml"
    text = (ROOT / "examples" / "my_task.yaml").read_text()
    spec.write_text(text + f"cache_dir: {tmp_path / 'cache'}\ndevice: cpu\n{extra}")
    result = CliRunner().invoke(app, ["run", str(spec), "--storage", url, "--trials", "6", "-q"])
    assert result.exit_code == 0, result.output
    return url, result


def test_bring_your_own_task_example_runs(tmp_path, monkeypatch):
    url, result = _run_example(tmp_path, monkeypatch)
    study = optuna.load_study(study_name="blobs", storage=url)
    assert len(all_trials(study)) == 6  # 3 distilled, and 3 of the student alone in blobs:baseline
    assert study.user_attrs["teacher_accuracy"] > 0.85
    assert study.best_value > 0.8
    assert "verdict: " in result.output and "test accuracy" in result.output  # verified on the example's test split


def test_a_task_without_a_test_split_gets_a_verdict_that_says_it_is_optimistic(tmp_path, monkeypatch):
    import examples.my_task as example

    monkeypatch.setattr(example, "make_task", lambda make=example.make_task: _without_test(make()))
    _, result = _run_example(tmp_path, monkeypatch, "verify: {top_k: 1, seeds: 2}\n")
    output = " ".join(result.output.split())
    assert "validation (no test split: optimistic, the search selected on it) accuracy" in output


def _without_test(task):
    task.test = None
    return task


def test_setup_commands_pin_torch_before_the_project():
    setup = _section("Set up")
    commands = [line for line in setup.splitlines() if line.startswith("python3 -m venv")]
    assert len(commands) == 2
    for line in commands:
        assert line.index("pip install torch==2.13.0") < line.index("pip install -e")
    assert commands[0].endswith("tempopt run studies/quickstart.yaml")
    assert commands[1].endswith("python -m pytest")
    ci = (ROOT / ".ci" / "run").read_text()  # CI runs the README's test command itself, verbatim
    awk = "awk '/^# 2\\. install and run the tests/ {getline; print; exit}' README.md"
    assert awk in ci and 'bash -c "set -eo pipefail; $test_command"' in ci
    previous = setup.splitlines()[setup.splitlines().index(commands[1]) - 1]
    assert previous.startswith("# 2. install and run the tests")  # the line the awk finds
