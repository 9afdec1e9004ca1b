"""Batches for a job.

Tensor datasets (``TensorDataset`` or anything exposing ``.tensors``) are moved to the job's
device once and batched by indexing, with no DataLoader and no per-batch copy. Any other
dataset goes through a DataLoader that also yields each sample's index, so cached teacher
logits can be looked up for it. Both paths draw the same order from the job's generator and
leave the global random state alone, so a job trains the same whatever its dataset's type.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset


@dataclass
class Batch:
    """One batch: sample indices into its source, inputs, and labels (None when unlabelled).

    An augmented batch (:mod:`tempopt.distill.views`) says so, and gives each example's view
    when it is one of the split's fixed views (whose teacher logits a view bank holds).
    """

    index: Tensor  # (B,) long, on the job's device
    x: Tensor  # (B, ...)
    y: Tensor | None  # (B,) long
    view: Tensor | None = None  # (B,) long: the view of each example, for fixed views
    augmented: bool = False


def dataset_tensors(dataset: Dataset) -> tuple[Tensor, ...] | None:
    """The tensors behind a tensor dataset, or None for any other dataset."""
    tensors = getattr(dataset, "tensors", None)
    if isinstance(tensors, tuple) and tensors and all(isinstance(t, Tensor) for t in tensors):
        return tensors
    return None


class BatchSource:
    """Yields :class:`Batch` objects over a dataset, on a device, shuffled or in order."""

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        device: torch.device,
        labelled: bool = True,
        num_workers: int = 0,
    ) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.device = device
        self.labelled = labelled
        self.num_workers = num_workers
        self._passes = 0  # seeds the DataLoader's workers differently on every pass
        tensors = dataset_tensors(dataset)
        self._x: Tensor | None = None
        self._y: Tensor | None = None
        if tensors is not None:
            self._x = tensors[0].to(device)
            if labelled and len(tensors) > 1:
                self._y = tensors[1].to(device).long()

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def num_batches(self) -> int:
        """Batches per pass over the data."""
        return -(-len(self) // self.batch_size)

    def batches(self, generator: torch.Generator | None = None) -> Iterator[Batch]:
        """One pass: shuffled with ``generator``, in order without it."""
        if self._x is not None:
            yield from self._tensor_batches(generator)
        else:
            yield from self._loader_batches(generator)

    def _tensor_batches(self, generator: torch.Generator | None) -> Iterator[Batch]:
        n = len(self)
        x, y = self._x, self._y
        assert x is not None
        if generator is None:  # in order: slices are views, no copy of the batch
            index = torch.arange(n, device=self.device)
            for start in range(0, n, self.batch_size):
                part = slice(start, start + self.batch_size)
                yield Batch(index=index[part], x=x[part], y=y[part] if y is not None else None)
            return
        order = torch.randperm(n, generator=generator).to(self.device)
        for start in range(0, n, self.batch_size):
            index = order[start : start + self.batch_size]
            yield Batch(index=index, x=x[index], y=y[index] if y is not None else None)

    def _loader_batches(self, generator: torch.Generator | None) -> Iterator[Batch]:
        n = len(self)
        order = torch.arange(n) if generator is None else torch.randperm(n, generator=generator)
        # The DataLoader draws its workers' base seed from its generator, or else from the
        # global random state (which would shift dropout); give it a private one.
        self._passes += 1
        base = generator.initial_seed() if generator is not None else 0
        worker_seeds = torch.Generator().manual_seed((base * 1_000_003 + self._passes) % 2**63)
        loader = DataLoader(
            _Indexed(self.dataset),
            batch_size=self.batch_size,
            sampler=order.tolist(),  # the order the tensor path would use
            generator=worker_seeds,
            num_workers=self.num_workers,
            pin_memory=self.device.type == "cuda",
        )
        for index, x, y in loader:
            y_dev = y.to(self.device, non_blocking=True).long() if self.labelled else None
            yield Batch(
                index=index.to(self.device, non_blocking=True),
                x=x.to(self.device, non_blocking=True),
                y=y_dev,
            )


class _Indexed(Dataset):
    """Wraps a dataset so that items are ``(index, x, y)``; unlabelled items get ``y = -1``."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> tuple[int, Tensor, int]:
        item = self.dataset[i]
        if isinstance(item, (tuple, list)):
            x = item[0]
            y = int(item[1]) if len(item) > 1 else -1
        else:
            x, y = item, -1
        return i, torch.as_tensor(x), y


def first_inputs(dataset: Dataset, n: int) -> Tensor:
    """The inputs ``x`` of the first ``n`` items (fewer in a smaller dataset), stacked: ``(n, ...)``."""
    tensors = dataset_tensors(dataset)
    if tensors is not None:
        return tensors[0][:n]
    indexed = _Indexed(dataset)
    return torch.stack([indexed[i][1] for i in range(min(n, len(indexed)))])


def chance_accuracy(dataset: Dataset) -> float:
    """The accuracy of always answering the most frequent label of ``dataset``: chance level."""
    tensors = dataset_tensors(dataset)
    if tensors is not None and len(tensors) > 1:
        labels = tensors[1].long().flatten()
    else:
        labels = torch.tensor([int(dataset[i][1]) for i in range(len(dataset))], dtype=torch.long)  # type: ignore[arg-type]
    if len(labels) == 0:
        return 0.0
    return torch.bincount(labels).max().item() / len(labels)


def fingerprint(dataset: Dataset | None) -> str:
    """A content hash of a dataset, used in the teacher-cache key.

    A dataset may define ``fingerprint() -> str`` (image folders hash paths, sizes and times);
    tensor datasets hash their bytes; any other dataset is read once and its items hashed.
    """
    h = hashlib.sha256()
    if dataset is None:
        return "none"
    custom = getattr(dataset, "fingerprint", None)
    if callable(custom):
        h.update(str(custom()).encode())
        return h.hexdigest()
    tensors = dataset_tensors(dataset)
    items = tensors if tensors is not None else _iter_items(dataset)
    for t in items:
        t = t.detach().cpu().contiguous()
        h.update(str((tuple(t.shape), str(t.dtype))).encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()


def _iter_items(dataset: Dataset) -> Iterator[Tensor]:
    for i in range(len(dataset)):  # type: ignore[arg-type]
        item = dataset[i]
        for part in item if isinstance(item, (tuple, list)) else (item,):
            yield torch.as_tensor(part)
