"""What a student costs: its parameter count, and its measured CPU inference latency."""

from __future__ import annotations

import statistics
import time

import torch
from torch import Tensor, nn

LATENCY_REPEATS = 50
LATENCY_WARMUP = 5


def parameter_count(model: nn.Module) -> int:
    """Trainable and frozen parameters of ``model``."""
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def cpu_latency_ms(model: nn.Module, example: Tensor, repeats: int = LATENCY_REPEATS) -> float:
    """Median milliseconds of one forward pass of ``model`` on one example, on the CPU, one thread.

    The model is copied to the CPU in eval mode (the caller's model is left as it is), so the
    figure is comparable between trials whatever device they trained on.
    """
    cpu = _cpu_copy(model).eval()
    x = example.detach().cpu().unsqueeze(0)  # (1, ...)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(LATENCY_WARMUP):
            cpu(x)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            cpu(x)
            times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    return 1000 * statistics.median(times)


def _cpu_copy(model: nn.Module) -> nn.Module:
    import copy

    return copy.deepcopy(model).cpu()
