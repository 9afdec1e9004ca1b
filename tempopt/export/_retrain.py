"""Retraining the student from an exported configuration."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from tempopt.distill import JobResult, prepare_teacher, run_job
from tempopt.distill.device import limit_cpu_threads
from tempopt.export._export import read_export, versions
from tempopt.outputs import check_output_folder, write_atomically, write_text_atomically
from tempopt.study.spec.host import cache_dir, load_spec_task
from tempopt.study.spec.model import StudySpec
from tempopt.study.spec.task_args import trial_task_args
from tempopt.study.trial.objective import job_config

TRAIN_FILES = ("student.pt", "metrics.json", "config.yaml")


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


def expected_value(data: dict[str, Any], seed: int) -> float | None:
    """The validation accuracy the study recorded for the exported config with student ``seed``:
    the search trial's for the export's ``seed``, a verification replicate's for another."""
    if seed == data.get("seed"):
        return data.get("value")
    distilled = (data.get("verdict") or {}).get("distilled") or {}
    seeds = (data.get("verdict") or {}).get("seeds") or []
    if seed in seeds and distilled.get("trial") == data.get("trial") and len(distilled.get("val", [])) == len(seeds):
        return float(distilled["val"][seeds.index(seed)])
    return None


def check_retrain(
    export_path: str | Path, out_dir: str | Path, force: bool = False
) -> tuple[dict[str, Any], StudySpec]:
    """The export read and checked, and ``out_dir`` usable: before any training starts.

    Args:
        force: write into a folder that holds files other than an earlier train's.

    Raises:
        SpecError: a bad export; ``out_dir`` is a file, or holds files train did not write.
    """
    data, spec = read_export(export_path)
    check_output_folder(Path(out_dir), TRAIN_FILES, is_train_output, "train", force)
    return data, spec


def is_train_output(folder: Path) -> bool:
    """True if ``folder`` holds what tempopt train wrote: a ``metrics.json`` with the trained ``params``."""
    try:
        metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(metrics, dict) and isinstance(metrics.get("params"), dict)


def retrain(
    export_path: str | Path,
    out_dir: str | Path,
    device: str | None = None,
    on_epoch: Callable[[int, float], bool] | None = None,
    seed: int | None = None,
    force: bool = False,
) -> RetrainResult:
    """Train the student again with the exported params, and save it.

    Args:
        seed: the student seed (default: the export's ``seed``, the search's); a verification
            seed of the export's verdict reproduces that replicate.

    Writes ``student.pt`` (the state_dict), ``metrics.json`` (with ``val_accuracy`` and
    ``test_accuracy``) and ``config.yaml`` to ``out_dir``.
    """
    data, spec = check_retrain(export_path, out_dir, force)
    out = Path(out_dir)
    limit_cpu_threads(spec.cpu_threads)  # the same threads as the study: the same rounding, the same student
    if device is not None:
        spec = spec.model_copy(update={"device": device})
    spec = spec.model_copy(update={"task_args": trial_task_args(spec, data["params"])})  # a searched student
    task = load_spec_task(spec)
    seed = int(data.get("seed", spec.seed)) if seed is None else seed
    config = replace(job_config(spec, {**(data.get("fixed") or {}), **data["params"]}), seed=seed)
    teacher = None
    if config.kd_weight > 0:
        teacher = prepare_teacher(
            task, cache_dir(spec), device=config.device, seed=spec.teacher.seed, views=spec.teacher_views
        )
    result = run_job(task, config, teacher, on_epoch=on_epoch, measure_test=True)
    assert result.model is not None
    state = {k: v.detach().cpu() for k, v in result.model.state_dict().items()}
    write_atomically(out / "student.pt", lambda tmp: torch.save(state, tmp))
    metrics: dict[str, Any] = {
        "seed": seed,
        "val_accuracy": result.final_accuracy,
        "test_accuracy": result.test_accuracy,
        "test_split": result.test_split,
        "final_accuracy": result.final_accuracy,
        "best_accuracy": result.best_accuracy,
        "history": result.history,
        "epochs_run": result.epochs_run,
        "seconds": result.seconds,
        "device": result.device,
        "exported_value": expected_value(data, seed),
        "params": data["params"],
        "fixed": data.get("fixed") or {},
        "loss": config.loss,
        "loss_args": config.loss_args,
        **{name: values[-1] for name, values in result.learned.items()},  # e.g. learned_temperature
        "study": data.get("study"),
        "teacher_accuracy": None if teacher is None else teacher.accuracy,
        "versions": versions(),
    }
    write_text_atomically(out / "config.yaml", Path(export_path).read_text(encoding="utf-8"))
    write_text_atomically(out / "metrics.json", json.dumps(metrics, indent=2))  # last: the folder's marker
    return RetrainResult(result, metrics["exported_value"], out, metrics["teacher_accuracy"])
