"""The paired bootstrap interval behind the verdict: seeds and test examples resampled together."""

from __future__ import annotations

import numpy as np

N_BOOTSTRAP = 4000
LEVEL = 0.95
CHUNK = 256


def paired_interval(
    distilled: np.ndarray, baseline: np.ndarray, n_bootstrap: int = N_BOOTSTRAP, seed: int = 0
) -> tuple[float, float, float]:
    """Mean paired difference and its bootstrap interval, resampling seeds and examples.

    Args:
        distilled: ``(S, N)`` bool, example n right for seed s, distilled side.
        baseline: ``(S, N)`` bool, the same seeds and examples, baseline side.

    Returns:
        ``(mean, low, high)`` of the mean over seeds of the accuracy difference.
    """
    diff = distilled.astype(np.float64) - baseline.astype(np.float64)  # (S, N) in {-1, 0, 1}
    s, n = diff.shape
    rng = np.random.default_rng(seed)
    per_seed = np.empty((s, n_bootstrap))  # each seed's difference on each example resample
    for start in range(0, n_bootstrap, CHUNK):  # (CHUNK, N) draws at a time: bounded memory
        size = min(CHUNK, n_bootstrap - start)
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=size)  # (b, N) example draws
        per_seed[:, start : start + size] = diff @ counts.T / n
    seeds = rng.integers(0, s, size=(n_bootstrap, s))  # (B, S) seed draws
    boot = per_seed[seeds, np.arange(n_bootstrap)[:, None]].mean(axis=1)  # (B,)
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(boot, [tail, 100 - tail])
    return float(diff.mean()), float(low), float(high)
