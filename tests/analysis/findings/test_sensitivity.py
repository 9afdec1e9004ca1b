"""Accuracy against T and the T×λ grid."""

from __future__ import annotations

import math

import pytest

from tempopt.analysis import temperature_sensitivity
from tests.analysis.studies import make_study, only_temperature


def test_temperature_bins_are_log_spaced_and_peak_where_the_truth_does():
    ts = temperature_sensitivity(make_study(only_temperature, 80), n_bins=5)
    assert ts.reason is None and ts.n_trials == 80  # the baseline (kd_weight = 0) is left out
    edges = [b.low for b in ts.bins] + [ts.bins[-1].high]
    assert edges[0] == pytest.approx(1.0) and edges[-1] == pytest.approx(20.0)
    ratios = [hi / lo for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    assert ratios == pytest.approx([20**0.2] * 5)
    assert sum(b.count for b in ts.bins) == 80
    best_bin = max((b for b in ts.bins if b.mean is not None), key=lambda b: b.mean)
    assert best_bin.low <= 4.0 <= best_bin.high  # only_temperature peaks at T = 4


def test_the_grid_counts_every_distilled_trial_and_marks_empty_cells():
    study = make_study(lambda p: 0.7 + 0.1 * p["kd_weight"] * math.log10(p["temperature"]), 60)
    ts = temperature_sensitivity(study, grid_bins=(4, 4))
    grid = ts.grid
    assert sum(map(sum, grid.count)) == 60
    for means, counts in zip(grid.mean, grid.count, strict=True):
        for m, c in zip(means, counts, strict=True):
            assert (m is None) == (c == 0)
    i, j = grid.best_cell()
    assert i == 3 and j == 3  # high T and high λ win for this value


def test_too_few_distilled_trials_give_a_reason():
    ts = temperature_sensitivity(make_study(only_temperature, 1))
    assert ts.bins == [] and ts.grid is None
    assert ts.reason.startswith("1 complete distilled trials")
