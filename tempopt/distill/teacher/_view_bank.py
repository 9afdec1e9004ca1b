"""The view bank: the teacher's logits on every fixed augmented view, computed once per study.

A study's trials share a teacher, a data set, an augmentation and the views' seed, so the
teacher's logits on the ``V`` views of every training and transfer example
(:mod:`tempopt.distill.views`) are computed once, stored in float16 beside the cached teacher
in ``cache_dir`` and read by every trial, baseline and verification replicate on every worker.
The first worker builds the file under a lock; one that arrives meanwhile waits and reads it.

The file is a dict ``{"key", "format", "views", "seed", "splits": {split: table}}``. Format
``"dense"`` stores each split's table as ``{"logits": (V, N, C) float16}``. Keeping only each
view's top-k logits (for ImageNet-sized banks) is another format whose tables hold
``{"values": (V, N, k), "indices": (V, N, k)}``: :meth:`ViewBank.logits` is the one reader
that would learn it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from filelock import FileLock
from torch import Tensor, nn

from tempopt.distill.data import BatchSource
from tempopt.distill.device import autocast
from tempopt.distill.teacher._checkpoint import load_cache_entry, save_atomically
from tempopt.distill.teacher._source_hash import augmentation_code
from tempopt.distill.views import SPLITS, view_params
from tempopt.tasks import Task
from tempopt.tasks.augmentation import Augmentation

log = logging.getLogger(__name__)

BANK_FORMAT = "dense"
BANK_VERSION = 1
CHUNK = 1024
"""Examples per teacher forward pass while building."""

BankProgress = Callable[[int, int, int], None]
"""``on_progress(done, total, nbytes)``: chunks of the bank computed of ``total``, and its size."""


@dataclass
class ViewBank:
    """The teacher's logits on the fixed views, on the job's device.

    Attributes:
        views: ``V``, the views of every example.
        seed: the seed the views' parameters were drawn from.
        key: the bank's content hash.
        tables: per split (``train``, ``transfer``), ``(V, N, C)`` float16 logits.
        nbytes: the size of the stored logits.
        source: ``"cache"`` or ``"built"``: where it came from this time.
    """

    views: int
    seed: int
    key: str
    tables: dict[str, Tensor]
    nbytes: int
    source: str = "cache"

    def logits(self, split: str, view: Tensor, index: Tensor) -> Tensor:
        """``(B, C)`` float32 teacher logits of examples ``index`` of ``split``, each on its ``view``."""
        return self.tables[split][view, index].float()

    def to(self, device: torch.device) -> ViewBank:
        tables = {split: table.to(device) for split, table in self.tables.items()}
        return ViewBank(self.views, self.seed, self.key, tables, self.nbytes, self.source)


def bank_key(teacher_key: str, augmentation: Augmentation, views: int, seed: int) -> str:
    """The content hash of a bank: its teacher, augmentation (classes, source, config), views and seed."""
    recipe = {
        "version": BANK_VERSION,
        "format": BANK_FORMAT,
        "teacher": teacher_key,
        "augmentation": augmentation_code(augmentation),
        "views": views,
        "seed": seed,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


def bank_size(task: Task, views: int) -> int:
    """Bytes of a dense bank of ``views`` views of the task's training and transfer sets."""
    examples = sum(len(d) for d in _splits(task).values())  # type: ignore[arg-type]
    return views * examples * task.num_classes * 2  # float16


def prepare_bank(
    task: Task,
    model: nn.Module,
    teacher_key: str,
    cache_dir: Path,
    views: int,
    seed: int,
    device: torch.device,
    mixed_precision: bool = True,
    on_progress: BankProgress | None = None,
) -> ViewBank:
    """The task's view bank, from ``cache_dir`` if it is there, else built once under a lock.

    Args:
        task: a task with a replayable ``augment``.
        model: the frozen teacher, on ``device``.
        teacher_key: the teacher's cache key (part of the bank's).
        cache_dir: the folder of the teacher cache.
        views: ``V >= 1``.
        seed: the seed of the views' parameters (the study's teacher seed).
        device: where the teacher runs and the bank is kept.
        mixed_precision: bf16 autocast on CUDA.
        on_progress: called before the first chunk and after each.
    """
    assert isinstance(task.augment, Augmentation) and views >= 1
    key = bank_key(teacher_key, task.augment, views, seed)
    safe_name = re.sub(r"[^A-Za-z0-9_.-]", "_", task.name)
    path = cache_dir / f"views-{safe_name}-{key[:16]}.pt"
    bank = _read(path, key)
    if bank is None:
        with FileLock(str(path) + ".lock"):
            bank = _read(path, key)  # built meanwhile by another worker?
            if bank is None:
                bank = _build(task, model, key, views, seed, device, mixed_precision, on_progress)
                save_atomically(_entry(bank), path)
    return bank.to(device)


def _splits(task: Task) -> dict:
    splits = {"train": task.train}
    if task.transfer is not None and len(task.transfer) > 0:  # type: ignore[arg-type]
        splits["transfer"] = task.transfer
    return splits


@torch.no_grad()
def _build(
    task: Task,
    model: nn.Module,
    key: str,
    views: int,
    seed: int,
    device: torch.device,
    mixed_precision: bool,
    on_progress: BankProgress | None,
) -> ViewBank:
    augmentation = task.augment
    assert isinstance(augmentation, Augmentation)
    sources = {split: BatchSource(data, CHUNK, device, labelled=False) for split, data in _splits(task).items()}
    total = views * sum(source.num_batches() for source in sources.values())
    nbytes = bank_size(task, views)
    log.info("building the teacher's view bank: %d views, %s bytes", views, f"{nbytes:,}")
    done = 0
    if on_progress is not None:
        on_progress(done, total, nbytes)
    tables = {}
    for split, source in sources.items():
        params = view_params(augmentation, len(source), views, seed, split).to(device)  # (V, N, P)
        table = torch.empty((views, len(source), task.num_classes), dtype=torch.float16)
        for view in range(views):
            for batch in source.batches():  # in index order
                x = augmentation.apply(batch.x, params[view, batch.index])  # (B, ...)
                with autocast(device, mixed_precision):
                    table[view, batch.index.cpu()] = model(x).float().cpu().half()  # (B, C)
                done += 1
                if on_progress is not None:
                    on_progress(done, total, nbytes)
        tables[split] = table
    return ViewBank(views, seed, key, tables, nbytes, source="built")


def _entry(bank: ViewBank) -> dict:
    tables = {split: {"logits": table.cpu()} for split, table in bank.tables.items()}
    return {"key": bank.key, "format": BANK_FORMAT, "views": bank.views, "seed": bank.seed, "splits": tables}


def _read(path: Path, key: str) -> ViewBank | None:
    entry = load_cache_entry(path, key, "view bank")  # the key covers the format
    if entry is None:
        return None
    tables = {split: table["logits"] for split, table in entry["splits"].items() if split in SPLITS}
    nbytes = sum(t.numel() * t.element_size() for t in tables.values())
    return ViewBank(int(entry["views"]), int(entry["seed"]), key, tables, nbytes)
