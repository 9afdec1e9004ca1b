"""Which examples K members classify right: the one evaluation, of a batch or of one model."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from tempopt.distill.data import BatchSource
from tempopt.distill.device import autocast


@torch.no_grad()
def hits(forward: Callable[[Tensor], Tensor], members: int, source: BatchSource, mixed_precision: bool) -> Tensor:
    """``(K, N)`` bool, on the source's device: whether each member classifies each example of
    ``source`` right, from ``forward``: ``(B, ...) -> (K, B, C)`` logits (in eval mode)."""
    parts: list[Tensor] = []
    for batch in source.batches():
        with autocast(source.device, mixed_precision):
            logits = forward(batch.x)  # (K, B, C)
        assert batch.y is not None, "an evaluation needs labels"
        parts.append(logits.argmax(-1).eq(batch.y))  # (K, B)
    if not parts:
        return torch.zeros((members, 0), dtype=torch.bool, device=source.device)
    return torch.cat(parts, dim=1)


def accuracies(correct: Tensor) -> list[float]:
    """Every member's top-1 accuracy from its ``(K, N)`` hits (0 over no examples)."""
    return (correct.sum(1).double() / max(correct.shape[1], 1)).tolist()


def correct_examples(model: nn.Module, source: BatchSource, mixed_precision: bool = True) -> Tensor:
    """``(N,)`` bool on the CPU: whether ``model`` classifies each example of ``source`` right."""
    return _model_hits(model, source, mixed_precision)[0].cpu()


def evaluate(model: nn.Module, source: BatchSource, mixed_precision: bool = True) -> float:
    """Top-1 accuracy of ``model`` over ``source``, in eval mode."""
    return accuracies(_model_hits(model, source, mixed_precision))[0]


def _model_hits(model: nn.Module, source: BatchSource, mixed_precision: bool) -> Tensor:
    """``(1, N)`` hits of one model, a batch of one, evaluated in eval mode (its mode restored)."""
    was_training = model.training
    model.eval()
    try:
        return hits(lambda x: model(x).unsqueeze(0), 1, source, mixed_precision)
    finally:
        model.train(was_training)
