"""The teacher: trained (or loaded) once, frozen, its logits cached on disk and shared.

The cache key (:mod:`tempopt.distill.teacher._key`) is a content hash of the data, the teacher's
architecture and code and either its checkpoint or its training recipe. Every trial and every
process with the same key reuses one file; a file lock and an atomic rename make sure that
processes starting together train the teacher only once. With a replayable augmentation the
teacher's logits on the augmented views are a second file, the view bank
(:mod:`tempopt.distill.teacher._view_bank`).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from filelock import FileLock
from torch import Tensor, nn

from tempopt.distill.data import Batch, BatchSource
from tempopt.distill.device import autocast, resolve_device
from tempopt.distill.job import JobConfig, TeacherSignal, evaluate, fit
from tempopt.distill.seeding import seed_everything
from tempopt.distill.teacher._checkpoint import load_cache_entry, load_weights, read_state_dict, save_atomically
from tempopt.distill.teacher._key import cache_key
from tempopt.distill.teacher._view_bank import BankProgress, ViewBank, prepare_bank
from tempopt.errors import SpecError
from tempopt.tasks import Task
from tempopt.tasks.augmentation import Augmentation

log = logging.getLogger(__name__)

ACCURACY_TOLERANCE = 5e-3
"""How far a cached teacher's validation accuracy may move on reload (other hardware, bf16)."""
DEFAULT_CACHE_DIR = ".tempopt-cache"
_said_live: set[str] = set()


@dataclass
class Teacher(TeacherSignal):
    """A frozen teacher in eval mode, with its cached logits where the task allows them.

    Attributes:
        model: the teacher, ``eval()`` and ``requires_grad_(False)``, on the job's device.
        accuracy: its validation accuracy.
        test_accuracy: its accuracy on the task's test split (None without one).
        key: the cache key (hex content hash).
        source: ``"cache"``, ``"trained"`` or ``"checkpoint"``: where it came from this time.
        train_logits: ``(N_train, C)`` logits over the training inputs, or None (augmentation).
        transfer_logits: ``(N_transfer, C)`` logits over the transfer set, or None.
        bank: its logits on the fixed augmented views, or None (no replayable augmentation,
            or ``teacher.views: 0``).
    """

    model: nn.Module
    accuracy: float
    key: str
    source: str
    train_logits: Tensor | None = None
    transfer_logits: Tensor | None = None
    mixed_precision: bool = True
    test_accuracy: float | None = None
    bank: ViewBank | None = None

    def logits(self, kind: str, batch: Batch, x: Tensor) -> Tensor:
        """Teacher logits for a batch: looked up in the bank or the cache, or computed on ``x``."""
        if batch.view is not None and self.bank is not None:
            return self.bank.logits(kind, batch.view, batch.index)  # (B, C)
        cached = self.train_logits if kind == "train" else self.transfer_logits
        if cached is not None and not batch.augmented:
            return cached[batch.index]
        with torch.no_grad(), autocast(x.device, self.mixed_precision):
            return self.model(x).float()


def prepare_teacher(
    task: Task,
    cache_dir: str | Path = DEFAULT_CACHE_DIR,
    device: str = "auto",
    seed: int = 0,
    mixed_precision: bool = True,
    on_epoch: Callable[[int, float], bool] | None = None,
    views: int = 0,
    on_views: BankProgress | None = None,
) -> Teacher:
    """The task's teacher, from the cache if it is there, else trained or loaded once.

    Args:
        task: the task whose teacher to prepare.
        cache_dir: folder shared by every trial and process of a study.
        device: where the teacher runs (``auto``, ``cpu``, ``cuda``…).
        seed: seed of the teacher's training (part of the key).
        mixed_precision: bf16 autocast on CUDA.
        on_epoch: progress callback for the teacher's training epochs.
        views: with a replayable augmentation, the views of the teacher's view bank (built
            once, or read); ``0`` runs the teacher live on every augmented batch.
        on_views: progress callback of the bank's building.

    Returns:
        The frozen teacher with its logits.
    """
    key = cache_key(task, seed)
    cache_dir = ensure_cache_dir(cache_dir)
    safe_name = re.sub(r"[^A-Za-z0-9_.-]", "_", task.name)  # a task name is no path
    path = cache_dir / f"teacher-{safe_name}-{key[:16]}.pt"
    teacher = _trusted(task, _read_entry(path, key), path, device, mixed_precision)
    if teacher is None:
        with FileLock(str(path) + ".lock"):
            teacher = _trusted(task, _read_entry(path, key), path, device, mixed_precision)  # written meanwhile?
            if teacher is None:
                entry, source = _build_entry(task, key, device, seed, mixed_precision, on_epoch)
                save_atomically(entry, path)
                teacher = _teacher_from_entry(task, entry, source, device, mixed_precision)
    if task.augment is not None and not isinstance(task.augment, Augmentation):
        _say_live_once(task)
    if views > 0 and isinstance(task.augment, Augmentation):
        dev = resolve_device(device)
        teacher.bank = prepare_bank(task, teacher.model, key, cache_dir, views, seed, dev, mixed_precision, on_views)
    return teacher


def _say_live_once(task: Task) -> None:
    if task.name not in _said_live:
        _said_live.add(task.name)
        log.warning(
            "task %s augments with a plain function, so its teacher runs on every batch of every trial; make it a "
            "tempopt.Augmentation (sample and apply) and the teacher's logits on its views are computed once",
            task.name,
        )


def ensure_cache_dir(cache_dir: str | Path) -> Path:
    """The teacher cache folder, created if missing.

    Raises:
        SpecError: it is a file, or cannot be created or written.
    """
    path = Path(cache_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        if not os.access(path, os.W_OK | os.X_OK):
            raise PermissionError(13, "not writable")
    except OSError as e:
        what = "is a file, not a folder" if path.is_file() else f"cannot be used ({e.strerror or e})"
        raise SpecError(f"cache_dir {str(path)!r} {what}; set cache_dir to a writable folder.") from None
    return path


def _trusted(task: Task, entry: dict | None, path: Path, device: str, mixed_precision: bool) -> Teacher | None:
    """The cached teacher if it still scores its recorded validation accuracy, else None.

    A cached teacher is only trusted when this task's teacher, loaded with the cached weights,
    reproduces the accuracy measured when it was cached: code that changed behind an unchanged
    key (a ``forward`` edited elsewhere) gets a new teacher, not silently the old one's logits.
    """
    if entry is None:
        return None
    try:
        teacher = _teacher_from_entry(task, entry, "cache", device, mixed_precision)
    except (RuntimeError, KeyError) as e:  # the weights do not fit this teacher any more
        log.warning("ignoring teacher cache %s: %s", path, str(e).splitlines()[0])
        return None
    dev = resolve_device(device)
    accuracy = evaluate(teacher.model, BatchSource(task.val, 1024, dev), mixed_precision)
    if abs(accuracy - teacher.accuracy) > ACCURACY_TOLERANCE:
        log.warning("ignoring teacher cache %s: it scores %.4f now, %.4f when cached", path, accuracy, teacher.accuracy)
        return None
    return teacher


def _build_entry(
    task: Task,
    key: str,
    device: str,
    seed: int,
    mixed_precision: bool,
    on_epoch: Callable[[int, float], bool] | None,
) -> tuple[dict, str]:
    seed_everything(seed)  # the teacher's initial weights are part of its recipe, like the seed
    model = task.teacher()
    if task.teacher_checkpoint is not None:
        path = Path(task.teacher_checkpoint)
        state, note = read_state_dict(path)
        if note is not None:
            log.info(note)  # the pre-flight has shown it as a warning
        load_weights(model, state, path, f"the teacher of task {task.name!r}", "teacher_checkpoint")
        source = "checkpoint"
    else:
        log.info("training the teacher of task %s (%d epochs)", task.name, task.teacher_epochs)
        config = JobConfig(
            temperature=1.0,
            kd_weight=0.0,
            lr=task.teacher_lr,
            epochs=task.teacher_epochs,
            seed=seed,
            device=device,
            mixed_precision=mixed_precision,
        )
        fit(model, task, config, teacher=None, on_epoch=on_epoch, train=task.teacher_train)
        source = "trained"
    dev = resolve_device(device)
    model = _freeze(model.to(dev))
    val = BatchSource(task.val, 1024, dev)
    entry = {
        "key": key,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "accuracy": evaluate(model, val, mixed_precision),
        "test_accuracy": None
        if task.test is None
        else evaluate(model, BatchSource(task.test, 1024, dev), mixed_precision),
        "train_logits": None,
        "transfer_logits": None,
    }
    if task.augment is None:
        entry["train_logits"] = _all_logits(model, task.train, dev, mixed_precision, task.num_classes)
        if task.transfer is not None:
            entry["transfer_logits"] = _all_logits(model, task.transfer, dev, mixed_precision, task.num_classes)
    return entry, source


def _teacher_from_entry(task: Task, entry: dict, source: str, device: str, mixed_precision: bool) -> Teacher:
    dev = resolve_device(device)
    model = task.teacher()
    model.load_state_dict(entry["state_dict"])
    model = _freeze(model.to(dev))

    def on_device(t: Tensor | None) -> Tensor | None:
        return None if t is None or task.augment is not None else t.to(dev)

    return Teacher(
        model=model,
        accuracy=float(entry["accuracy"]),
        key=entry["key"],
        source=source,
        train_logits=on_device(entry["train_logits"]),
        transfer_logits=on_device(entry["transfer_logits"]),
        mixed_precision=mixed_precision,
        test_accuracy=None if entry.get("test_accuracy") is None else float(entry["test_accuracy"]),
    )


def _freeze(model: nn.Module) -> nn.Module:
    model.eval()
    model.requires_grad_(False)
    return model


@torch.no_grad()
def _all_logits(model: nn.Module, dataset, device: torch.device, mixed_precision: bool, num_classes: int) -> Tensor:
    """``(N, C)`` float32 logits over a dataset, in its index order, on the CPU."""
    source = BatchSource(dataset, 1024, device, labelled=False)
    out = []
    for batch in source.batches():
        with autocast(device, mixed_precision):
            out.append(model(batch.x).float().cpu())
    return torch.cat(out) if out else torch.empty((0, num_classes))  # an empty dataset: (0, C)


def _read_entry(path: Path, key: str) -> dict | None:
    return load_cache_entry(path, key, "teacher cache")
