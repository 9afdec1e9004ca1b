"""The README's examples are the shipped files, and they run."""

from __future__ import annotations

import re
from pathlib import Path

import optuna
from typer.testing import CliRunner

import tempopt.cli  # noqa: F401
from tempopt.cli.app import app
from tempopt.study.stored import all_trials

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


def test_the_readmes_augmentation_is_the_shipped_file_and_works_with_the_view_bank(tmp_path):
    """A user's own Augmentation, written from the README alone: replayable, and banked."""
    import torch

    from examples.cutout import Cutout
    from tempopt.distill import JobConfig, prepare_teacher, run_job
    from tempopt.tasks import load_task
    from tempopt.tasks.augmentation import Compose, Crop

    section = README[README.index("### Augmentation") :]
    python = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    source = (ROOT / "examples" / "cutout.py").read_text()
    assert python.strip() == source[source.index("import torch") :].strip()

    cutout = Cutout(3, 8, 8)
    x = torch.ones(4, 1, 8, 8)
    params = cutout.sample(4, torch.Generator().manual_seed(0))
    out = cutout.apply(x, params)
    assert torch.equal(out, cutout.apply(x, params)) and (out == 0).flatten(1).sum(1).tolist() == [9] * 4

    task = load_task("digits", {"labelled": 100, "teacher_epochs": 3})
    images = task.train.tensors[0].view(-1, 1, 8, 8)
    task.train = torch.utils.data.TensorDataset(images, task.train.tensors[1])
    task.val = torch.utils.data.TensorDataset(task.val.tensors[0].view(-1, 1, 8, 8), task.val.tensors[1])
    task.transfer = torch.utils.data.TensorDataset(task.transfer.tensors[0].view(-1, 1, 8, 8))
    task.test = task.teacher_train = None
    task.augment = Compose([Crop(1), cutout])
    teacher = prepare_teacher(task, tmp_path, device="cpu", views=2)
    assert teacher.bank is not None and teacher.bank.tables["train"].shape == (2, 100, 10)
    again = prepare_teacher(task, tmp_path, device="cpu", views=2)
    assert again.bank.source == "cache"
    config = JobConfig(temperature=4.0, kd_weight=0.5, lr=0.05, epochs=2, views=2, device="cpu")
    assert len(run_job(task, config, teacher).history) == 2
