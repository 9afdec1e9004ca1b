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
