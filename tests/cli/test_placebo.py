"""A reviewer's first question: what would an untrained teacher give? Never "helped".

The placebo is the quickstart's teacher architecture, untrained, its last layer scaled up so
that its targets are confident (0.9 on average) and random. The quickstart study file runs
unchanged against it; only the teacher checkpoint differs.
"""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from tempopt.tasks import load_task

from .conftest import ROOT


@pytest.mark.timeout(300)
def test_a_placebo_teacher_never_helps_on_the_quickstart(tmp_path, cli):
    spec = yaml.safe_load((ROOT / "studies" / "quickstart.yaml").read_text())
    task = load_task(spec["task"], spec["task_args"])
    torch.manual_seed(123)
    placebo = task.teacher()
    with torch.no_grad():
        placebo.net[-1].weight.mul_(300.0)
        placebo.net[-1].bias.mul_(300.0)
        probs = placebo.eval()(task.train.tensors[0]).softmax(-1)
    assert probs.max(-1).values.mean() > 0.85  # confident ...
    torch.save(placebo.state_dict(), tmp_path / "placebo.pt")
    spec.update(
        name="placebo",
        teacher={"checkpoint": str(tmp_path / "placebo.pt")},
        cache_dir=str(tmp_path / "cache"),
        device="cpu",
    )
    (tmp_path / "placebo.yaml").write_text(yaml.safe_dump(spec))

    url = f"sqlite:///{tmp_path / 'placebo.db'}"
    result = cli("run", tmp_path / "placebo.yaml", "--storage", url, "-q")
    assert result.exit_code == 0, result.output
    report = cli("report", "--study", "placebo", "--storage", url, "--out", tmp_path / "report", "--bootstrap", "0")
    assert report.exit_code == 0, report.output
    verdict = json.loads((tmp_path / "report" / "verdict.json").read_text())
    assert verdict["split"] == "test" and len(verdict["seeds"]) == 3
    assert verdict["verdict"] in ("no evidence", "hurt"), verdict["summary"]  # ... and no better than chance:
    assert verdict["gain"]["low"] < 0.01
    assert f"verdict: {verdict['verdict']}" in result.output


@pytest.mark.timeout(300)
def test_a_placebo_teacher_never_helps_on_mnist_with_random_crops_and_the_view_bank(tmp_path, cli):
    """The shipped mnist study, made small: its augmentation and view bank, a confident random teacher."""
    spec = yaml.safe_load((ROOT / "studies" / "mnist.yaml").read_text())
    spec["task_args"].update(labelled=128, val=200, transfer=128, teacher_arch="resnet8")
    task = load_task(spec["task"], spec["task_args"])
    torch.manual_seed(123)
    placebo = task.teacher()
    with torch.no_grad():
        placebo.head.weight.mul_(300.0)
        placebo.head.bias.mul_(300.0)
        probs = placebo.eval()(task.train.tensors[0]).softmax(-1)
    assert probs.max(-1).values.mean() > 0.85  # confident ...
    torch.save(placebo.state_dict(), tmp_path / "placebo.pt")
    spec.update(
        name="placebo-mnist",
        epochs=3,
        trials=10,
        teacher={"checkpoint": str(tmp_path / "placebo.pt"), "views": 3},
        verify={"top_k": 1, "seeds": 2},
        cache_dir=str(tmp_path / "cache"),
        device="cpu",
        cpu_threads=1,
        pruner={"name": "none"},
    )
    (tmp_path / "placebo.yaml").write_text(yaml.safe_dump(spec))

    url = f"sqlite:///{tmp_path / 'placebo.db'}"
    result = cli("run", tmp_path / "placebo.yaml", "--storage", url)
    assert result.exit_code == 0, result.output
    assert "teacher view bank: 3 views" in result.output
    report = cli(
        "report", "--study", "placebo-mnist", "--storage", url, "--out", tmp_path / "report", "--bootstrap", "0"
    )
    assert report.exit_code == 0, report.output
    verdict = json.loads((tmp_path / "report" / "verdict.json").read_text())
    assert verdict["split"] == "test" and len(verdict["seeds"]) == 2
    assert verdict["verdict"] != "helped", verdict["summary"]
    assert verdict["gain"] is None or verdict["gain"]["low"] < 0.01
