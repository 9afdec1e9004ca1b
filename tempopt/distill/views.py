"""Which augmented view of an example a job trains on, and the batches that carry it.

With a replayable augmentation (:class:`tempopt.tasks.augmentation.Augmentation`) and
``views = V > 0``, every training and transfer example has ``V`` fixed views: view ``v`` of
the examples of one split has the parameters ``augmentation.sample(N, generator)`` with the
generator seeded by the study's teacher seed, the split and ``v`` — the same in every job,
process and worker, so the teacher's logits on them can be computed once (the view bank,
:mod:`tempopt.distill.teacher._view_bank`).

A job picks, per example, a random first view from its own seed and then walks the views in
turn: in epoch ``e`` (0-based) example ``i`` is trained on view ``(first[i] + e) mod V``. So a
job with ``V >= epochs`` never repeats a view of an example, and two jobs with the same seed
(a distilled trial and a baseline) see exactly the same views.

With ``views = 0`` the parameters are drawn afresh for every batch from a generator of the
job's seed (the teacher, if any, runs live on them), and a plain augmentation function is
called on every batch as it always was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor

from tempopt.distill.data import Batch, BatchSource
from tempopt.errors import TaskError
from tempopt.tasks.augmentation import Augmentation

SPLITS = ("train", "transfer")


def stream_seed(seed: int, purpose: str, split: str, view: int = 0) -> int:
    """A 63-bit seed of its own for ``(seed, purpose, split, view)``: streams never overlap."""
    digest = hashlib.sha256(f"{seed}:{purpose}:{split}:{view}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def view_params(augmentation: Augmentation, n: int, views: int, seed: int, split: str) -> Tensor:
    """``(V, N, P)``: the parameters of every view of the ``n`` examples of ``split``.

    View ``v`` does not depend on ``views``: a bank of more views keeps the first ones.
    """
    rows = []
    for view in range(views):
        generator = torch.Generator().manual_seed(stream_seed(seed, "view", split, view))
        rows.append(augmentation.sample(n, generator).float())  # (N, P)
    return torch.stack(rows)


def first_views(n: int, views: int, job_seed: int, split: str) -> Tensor:
    """``(N,)`` long: each example's view in a job's first epoch, drawn from the job's seed."""
    generator = torch.Generator().manual_seed(stream_seed(job_seed, "first-view", split))
    return torch.randint(0, views, (n,), generator=generator)


def augment_once(augment: Augmentation | Callable[[Any], Any], x: Tensor, generator: torch.Generator) -> Any:
    """One augmented batch of ``x`` with fresh parameters (what the pre-flight tries)."""
    if not isinstance(augment, Augmentation):
        return augment(x)
    params = augment.sample(len(x), generator)
    if not isinstance(params, Tensor) or params.dim() != 2 or len(params) != len(x):
        got = tuple(params.shape) if isinstance(params, Tensor) else type(params).__name__
        raise TaskError(
            f"{type(augment).__name__}.sample({len(x)}, generator) returned {got}; return a ({len(x)}, P) tensor, "
            "one row of parameters per example."
        )
    return augment.apply(x, params.float().to(x.device))


class AugmentedSource:
    """Batches of a :class:`BatchSource`, augmented; each pass over it is one epoch.

    Args:
        source: the batches to augment (a training or transfer split).
        augment: the task's augmentation: replayable, or a plain function of ``x``.
        views: ``V > 0`` trains on the split's ``V`` fixed views (batches carry ``view``);
            ``0`` draws fresh parameters for every batch.
        view_seed: the seed the views' parameters are drawn from (the study's teacher seed).
        job_seed: the job's seed: which view each example starts at, or the fresh draws.
        split: ``"train"`` or ``"transfer"``: each has its own views and streams.
    """

    def __init__(
        self,
        source: BatchSource,
        augment: Augmentation | Callable[[Any], Any],
        views: int,
        view_seed: int,
        job_seed: int,
        split: str,
    ) -> None:
        self.source = source
        self.augment = augment
        self.views = views if isinstance(augment, Augmentation) else 0
        self._epoch = 0
        self._params: Tensor | None = None
        self._first: Tensor | None = None
        if isinstance(augment, Augmentation) and self.views > 0:
            device = source.device
            self._params = view_params(augment, len(source), self.views, view_seed, split).to(device)  # (V, N, P)
            self._first = first_views(len(source), self.views, job_seed, split).to(device)  # (N,)
        self._fresh = torch.Generator().manual_seed(stream_seed(job_seed, "fresh", split))

    @property
    def device(self) -> torch.device:
        return self.source.device

    def __len__(self) -> int:
        return len(self.source)

    def num_batches(self) -> int:
        return self.source.num_batches()

    def batches(self, generator: torch.Generator | None = None) -> Iterator[Batch]:
        """One epoch of augmented batches, in the order ``generator`` gives the plain source."""
        epoch = self._epoch
        self._epoch += 1
        for batch in self.source.batches(generator):
            yield self._augmented(batch, epoch)

    def _augmented(self, batch: Batch, epoch: int) -> Batch:
        if not isinstance(self.augment, Augmentation):
            return Batch(index=batch.index, x=self.augment(batch.x), y=batch.y, augmented=True)
        if self._params is None:  # fresh parameters for this batch
            params = self.augment.sample(len(batch.index), self._fresh).to(batch.x.device)  # (B, P)
            return Batch(index=batch.index, x=self.augment.apply(batch.x, params), y=batch.y, augmented=True)
        assert self._first is not None
        view = (self._first[batch.index] + epoch) % self.views  # (B,)
        params = self._params[view, batch.index]  # (B, P)
        x = self.augment.apply(batch.x, params)  # (B, ...)
        return Batch(index=batch.index, x=x, y=batch.y, view=view, augmented=True)
