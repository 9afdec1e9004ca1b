"""How accuracy moves with the temperature T, alone and together with the KD weight λ.

Only complete distilled trials (``kd_weight > 0``) count: with λ = 0 the temperature has no
effect. T is binned on a log scale over its search range, λ linearly over its range; a bin
without trials has ``mean = None`` rather than a made-up number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial

from tempopt.analysis.trials._trials import (
    KD_WEIGHT,
    TEMPERATURE,
    complete_trials,
    is_distilled,
    search_space,
)

T_BINS = 6
GRID_T_BINS = 4
GRID_KD_BINS = 4


@dataclass(frozen=True)
class Bin:
    """Trials whose T falls in ``[low, high)`` (the last bin includes ``high``)."""

    low: float
    high: float
    count: int
    mean: float | None
    std: float | None
    best: float | None

    @property
    def centre(self) -> float:
        """The geometric centre of the bin."""
        return math.sqrt(self.low * self.high)


@dataclass(frozen=True)
class InteractionGrid:
    """Mean value per (T bin, λ bin); ``mean[i][j]`` is T bin ``i``, λ bin ``j``."""

    t_edges: list[float]
    kd_edges: list[float]
    mean: list[list[float | None]]
    count: list[list[int]]

    def best_cell(self) -> tuple[int, int] | None:
        """Indices of the cell with the highest mean, or None if every cell is empty."""
        cells = [(m, i, j) for i, row in enumerate(self.mean) for j, m in enumerate(row) if m is not None]
        return max(cells)[1:] if cells else None


@dataclass(frozen=True)
class TemperatureSensitivity:
    """Accuracy against T and the T×λ grid, or the reason they are missing."""

    n_trials: int
    bins: list[Bin]
    grid: InteractionGrid | None
    reason: str | None = None


def temperature_sensitivity(
    study: optuna.Study,
    *,
    n_bins: int = T_BINS,
    grid_bins: tuple[int, int] = (GRID_T_BINS, GRID_KD_BINS),
) -> TemperatureSensitivity:
    """Bin the complete distilled trials by T (log scale) and by T×λ.

    Args:
        study: the study to read.
        n_bins: T bins of the one-dimensional profile.
        grid_bins: (T bins, λ bins) of the interaction grid.
    """
    trials = [
        t for t in complete_trials(study.get_trials(deepcopy=False)) if is_distilled(t) and TEMPERATURE in t.params
    ]
    space = search_space(trials)
    if len(trials) < 2:
        return TemperatureSensitivity(
            len(trials),
            [],
            None,
            reason=f"{len(trials)} complete distilled trials with a temperature; need 2 or more.",
        )
    t_edges = _edges(space[TEMPERATURE], n_bins, log=True)
    groups: list[list[float]] = [[] for _ in range(n_bins)]
    for t in trials:
        groups[_index(t.params[TEMPERATURE], t_edges)].append(t.value)  # type: ignore[arg-type]
    edges = zip(groups, t_edges[:-1], t_edges[1:], strict=True)
    bins = [_bin(values, lo, hi) for values, lo, hi in edges]
    grid = None
    if KD_WEIGHT in space:
        grid = _grid(trials, space[TEMPERATURE], space[KD_WEIGHT], grid_bins)
    return TemperatureSensitivity(len(trials), bins, grid)


def _edges(dist: BaseDistribution, n: int, log: bool) -> list[float]:
    assert isinstance(dist, (FloatDistribution, IntDistribution))
    low, high = float(dist.low), float(dist.high)
    if log and low > 0:
        return [float(x) for x in np.logspace(math.log10(low), math.log10(high), n + 1)]
    return [float(x) for x in np.linspace(low, high, n + 1)]


def _index(value: float, edges: list[float]) -> int:
    """The bin of ``value``; the top edge belongs to the last bin."""
    i = int(np.searchsorted(edges, value, side="right")) - 1
    return min(max(i, 0), len(edges) - 2)


def _bin(values: list[float], low: float, high: float) -> Bin:
    if not values:
        return Bin(low, high, 0, None, None, None)
    std = float(np.std(values, ddof=1)) if len(values) > 1 else None
    return Bin(low, high, len(values), float(np.mean(values)), std, float(max(values)))


def _grid(
    trials: list[FrozenTrial],
    t_dist: BaseDistribution,
    kd_dist: BaseDistribution,
    bins: tuple[int, int],
) -> InteractionGrid:
    t_edges, kd_edges = _edges(t_dist, bins[0], log=True), _edges(kd_dist, bins[1], log=False)
    cells: list[list[list[float]]] = [[[] for _ in range(bins[1])] for _ in range(bins[0])]
    for t in trials:
        if KD_WEIGHT in t.params:
            i = _index(t.params[TEMPERATURE], t_edges)
            j = _index(t.params[KD_WEIGHT], kd_edges)
            cells[i][j].append(t.value)  # type: ignore[arg-type]
    mean = [[float(np.mean(c)) if c else None for c in row] for row in cells]
    count = [[len(c) for c in row] for row in cells]
    return InteractionGrid(t_edges, kd_edges, mean, count)
