"""One trial as the report shows it: number, value, params and the wobble of its last epochs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from optuna.trial import FrozenTrial

LAST_EPOCHS = 5


@dataclass(frozen=True)
class TrialSummary:
    """One trial as the report shows it.

    Attributes:
        noise: epoch-to-epoch wobble of the last intermediate values (None with fewer than 3).
    """

    number: int
    value: float
    params: dict[str, Any]
    noise: float | None


def summarise_trial(trial: FrozenTrial, last_epochs: int = LAST_EPOCHS) -> TrialSummary:
    """The trial's number, value, params and epoch-to-epoch noise."""
    steps = sorted(trial.intermediate_values)[-last_epochs:]
    changes = np.diff([trial.intermediate_values[s] for s in steps])
    noise = float(np.std(changes, ddof=1) / math.sqrt(2)) if len(changes) >= 2 else None
    assert trial.value is not None
    return TrialSummary(trial.number, float(trial.value), dict(trial.params), noise)
