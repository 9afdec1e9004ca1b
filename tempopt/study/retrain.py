"""Retraining the student from an exported configuration."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from tempopt.distill import JobResult, prepare_teacher, run_job
from tempopt.distill.device import limit_cpu_threads
from tempopt.study.export import read_export, versions
from tempopt.study.objective import job_config
from tempopt.study.runner import load_spec_task


@dataclass
class RetrainResult:
    """The retrained student's metrics and where they were written."""

    result: JobResult
    exported_value: float | None
    out_dir: Path
    teacher_accuracy: float | None

    @property
    def difference(self) -> float | None:
        """Retrained minus exported accuracy."""
        if self.exported_value is None:
            return None
        return self.result.final_accuracy - self.exported_value


def retrain(
    export_path: str | Path,
    out_dir: str | Path,
    device: str | None = None,
    on_epoch: Callable[[int, float], bool] | None = None,
) -> RetrainResult:
    """Train the student again with the exported params, and save it.

    Writes ``student.pt`` (the state_dict), ``metrics.json`` and ``config.yaml`` to ``out_dir``.
    """
    data, spec = read_export(export_path)
    limit_cpu_threads(spec.cpu_threads)  # the same threads as the study: the same rounding, the same student
    if device is not None:
        spec = spec.model_copy(update={"device": device})
    task = load_spec_task(spec)
    config = job_config(spec, data["params"])
    teacher = None
    if config.kd_weight > 0:
        teacher = prepare_teacher(task, spec.cache_dir, device=config.device, seed=spec.seed)
    result = run_job(task, config, teacher, on_epoch=on_epoch)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    assert result.model is not None
    torch.save({k: v.detach().cpu() for k, v in result.model.state_dict().items()}, out / "student.pt")
    metrics: dict[str, Any] = {
        "final_accuracy": result.final_accuracy,
        "best_accuracy": result.best_accuracy,
        "history": result.history,
        "epochs_run": result.epochs_run,
        "seconds": result.seconds,
        "device": result.device,
        "exported_value": data.get("value"),
        "params": data["params"],
        "study": data.get("study"),
        "teacher_accuracy": None if teacher is None else teacher.accuracy,
        "versions": versions(),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (out / "config.yaml").write_text(Path(export_path).read_text())
    return RetrainResult(result, data.get("value"), out, metrics["teacher_accuracy"])
