"""The one best configuration every command shows, and what each of its figures is.

Once verification has finished that is the verdict's distilled config (``Verdict.distilled``:
the best mean validation accuracy over the fresh student seeds); before, the search's best
trial, marked unverified. A figure never stands alone: the search trial's own value (one seed,
the split it was selected on), the replicates' validation mean and their test mean are three
different numbers, and each says which it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial

from tempopt.analysis.verdict._compute import compute_verdict
from tempopt.analysis.verdict._verdict import Verdict
from tempopt.study.search.metrics import accuracy_of, complete_with_accuracy
from tempopt.study.stored import spec_of


@dataclass(frozen=True)
class Figure:
    """One accuracy and what it is, e.g. ``0.9694 (mean over seeds 1–3, val)``."""

    value: float
    label: str

    def __str__(self) -> str:
        return f"{self.value:.4f} ({self.label})"


@dataclass(frozen=True)
class BestConfig:
    """The config to use: its search trial, its params and its labelled figures.

    Attributes:
        trial: the search trial's number (what ``tempopt export`` writes).
        params: the trial's params.
        verified: True once verification has finished and chose it.
        figures: the search trial's own value first; once verified, the replicates' validation
            mean, then their test mean (a task without a test split has no test figure).
    """

    trial: int
    params: dict[str, Any]
    verified: bool
    figures: tuple[Figure, ...]

    @property
    def headline(self) -> Figure:
        """The figure it was chosen by: the replicates' validation mean, or the search's value."""
        return self.figures[1] if self.verified else self.figures[0]

    @property
    def status(self) -> str:
        return "verified" if self.verified else "unverified"

    @property
    def why(self) -> str:
        """One sentence: why this config, and how far to trust its figures."""
        if self.verified:
            return (
                "The distilled config with the best mean validation accuracy over the fresh student "
                "seeds of verification: the verdict's distilled side."
            )
        return "Unverified: the search's best trial, selected on validation with one seed, so its value is optimistic."

    def describe(self) -> str:
        """``trial #29, verified: 0.9638 (search, seed 0, val) · 0.9694 (mean over seeds 1–3, val) · …``"""
        return f"trial #{self.trial}, {self.status}: " + " · ".join(str(f) for f in self.figures)

    def short(self) -> str:
        """``trial #29, verified: 0.9694 (mean over seeds 1–3, val)``: for a table cell."""
        return f"trial #{self.trial}, {self.status}: {self.headline}"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BestConfig:
        """Read back what :meth:`to_json` wrote (the ``best`` key of an export)."""
        figures = tuple(Figure(float(v), str(k)) for k, v in data["figures"].items())
        return cls(int(data["trial"]), dict(data["params"]), bool(data["verified"]), figures)

    def to_json(self) -> dict[str, Any]:
        """``{"trial", "verified", "params", "figures": {label: value}}``, figures in order."""
        return {
            "trial": self.trial,
            "verified": self.verified,
            "params": self.params,
            "figures": {f.label: f.value for f in self.figures},
        }


def best_config(study: optuna.Study, verdict: Verdict | None = None) -> BestConfig | None:
    """The best config to show for ``study`` (read only), or None before any trial completed.

    Args:
        study: a tempopt search study.
        verdict: its verdict, when the caller has computed it already.
    """
    verdict = verdict if verdict is not None else compute_verdict(study)
    done = complete_with_accuracy(study.get_trials(deepcopy=False))
    if not done:
        return None
    spec_seed = spec_of(study.user_attrs).get("seed")
    side = verdict.distilled
    source = next((t for t in done if side is not None and side.test and t.number == side.trial), None)
    if side is not None and source is not None:  # the side has replicates: verification finished
        seeds = seed_range(verdict.seeds)
        figures = [_search_figure(source, spec_seed), Figure(float(np.mean(side.val)), f"mean over {seeds}, val")]
        if verdict.split == "test":
            figures.append(Figure(float(np.mean(side.test)), f"mean over {seeds}, test"))
        return BestConfig(source.number, dict(source.params), True, tuple(figures))
    best = max(done, key=lambda t: (accuracy_of(t), -t.number))  # type: ignore[arg-type,return-value]
    return BestConfig(best.number, dict(best.params), False, (_search_figure(best, spec_seed),))


def seed_range(seeds: list[int]) -> str:
    """``seeds 1–3`` for consecutive seeds, ``seeds 1, 5`` otherwise, ``seed 4`` for one."""
    if len(seeds) == 1:
        return f"seed {seeds[0]}"
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"seeds {seeds[0]}–{seeds[-1]}"
    return "seeds " + ", ".join(str(s) for s in seeds)


def _search_figure(trial: FrozenTrial, spec_seed: int | None) -> Figure:
    """The search trial's own value, with the student seed it was trained with."""
    seed = trial.user_attrs.get("seed", spec_seed)
    label = "search, val" if seed is None else f"search, seed {seed}, val"
    return Figure(float(accuracy_of(trial)), label)  # type: ignore[arg-type]
