"""Which held-out examples a replicate got right, stored compactly in a user attr.

The verdict's interval resamples test examples as well as seeds, paired between the two sides,
so each replicate keeps its per-example correctness: ``N`` bools as packed bits in base64
(about N/6 characters: 1 700 for a 10 000-image test set).
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np


def encode_correct(correct: np.ndarray | Any) -> str:
    """Per-example correctness ``(N,)`` bool as compact text (packed bits, base64) for a user attr."""
    bits = np.packbits(np.asarray(correct, dtype=bool))
    return base64.b64encode(bits.tobytes()).decode("ascii")


def decode_correct(text: str, n: int) -> np.ndarray:
    """The ``(n,)`` bool array :func:`encode_correct` wrote."""
    bits = np.frombuffer(base64.b64decode(text), dtype=np.uint8)
    return np.unpackbits(bits)[:n].astype(bool)
