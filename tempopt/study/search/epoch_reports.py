"""A job's per-epoch reports: every epoch's validation accuracy stored and the pruner asked, with
a few storage round trips per job instead of two per epoch.

``trial.report`` commits each value on its own, and ``trial.should_prune`` reads every trial of
the study each time: on the quickstart (epochs of a few milliseconds) those two calls took
about as long as the training itself. Here a job's reports are kept in memory and written
together, one transaction per trial: first once the job has run ``FIRST_FLUSH_SECONDS`` (a
running trial shows that it trains), then at most ``FLUSH_SECONDS`` apart, and always when the
job ends (before its trial is told, with the attrs of what it measured). Every epoch's value is
stored; a dashboard sees a running trial's curve at most ``FLUSH_SECONDS`` late. The pruner decides from the worker's
:class:`~tempopt.study.optuna_internals.PruneView`: the study read once, and again only when
another worker changed what a pruner reads (checked every ``CHECK_SECONDS``), with what this
worker did since, so a lone worker's decisions are exactly those of ``should_prune``.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import optuna

from tempopt.study.optuna_internals import PruneView, write_trial
from tempopt.study.storage.retries import retrying

log = logging.getLogger(__name__)

FLUSH_SECONDS = 2.0
"""Longest time a reported value waits in memory before it is written (a dashboard's lag)."""
FIRST_FLUSH_SECONDS = 0.5
"""How long a job runs before its first values are written: a longer trial is seen training
within half a second, and a shorter one (the quickstart's) writes its values once, at its end."""
CHECK_SECONDS = 1.0
"""How often a worker checks, with one aggregate query, whether another worker changed what its
pruner reads (a trial completed, a rung recorded); only then is the study read again. Until the
check, a trial another worker just finished is not counted, so the pruner compares with fewer
trials: it can only prune less (the median's startup trials, a rung with fewer rivals)."""
REFRESH_SECONDS = 5.0
"""Age at which the pruner's view is read again on a storage without that query (the gRPC proxy)."""


def prune_view(study: optuna.Study) -> PruneView:
    """A worker's view of ``study`` for its pruner (one per worker and study)."""
    return PruneView(study, CHECK_SECONDS, REFRESH_SECONDS)


class EpochReports:
    """The reports and pruning decisions of one job's trials; use as a context manager, whose
    exit writes what is left (the trials must not have been told yet)."""

    def __init__(
        self,
        trials: Sequence[optuna.Trial],
        view: PruneView | None = None,
        flush_seconds: float = FLUSH_SECONDS,
        first_flush_seconds: float = FIRST_FLUSH_SECONDS,
    ) -> None:
        self.trials = list(trials)
        self._view = view
        self._flush_seconds = flush_seconds
        self._first_flush_seconds = first_flush_seconds
        self._started = time.monotonic()
        self._values: dict[int, dict[int, float]] = {t.number: {} for t in self.trials}
        self._pending: dict[int, dict[int, float]] = {t.number: {} for t in self.trials}
        self._attrs: dict[int, dict[str, Any]] = {t.number: {} for t in self.trials}
        self._flushed_at: float | None = None

    def report(self, trial: optuna.Trial, epoch: int, value: float) -> None:
        """Record ``value`` as the trial's intermediate value at step ``epoch``, as
        ``trial.report`` would (a step already reported keeps its first value)."""
        values = self._values[trial.number]
        if epoch in values:
            return
        values[epoch] = self._pending[trial.number][epoch] = float(value)
        now = time.monotonic()
        if self._flushed_at is None:  # the first write: once every trial has a value, after the first wait
            due = now - self._started >= self._first_flush_seconds and all(self._values[t.number] for t in self.trials)
        else:
            due = now - self._flushed_at >= self._flush_seconds
        if due:
            self.flush()

    def attach(self, trial: optuna.Trial, attrs: dict[str, Any]) -> None:
        """User attrs of ``trial`` to write with its last reports, in the same transaction (what
        its job measured: one round trip fewer per trial)."""
        self._attrs[trial.number].update(attrs)

    def should_prune(self, trials: Sequence[optuna.Trial]) -> list[bool]:
        """What ``trial.should_prune()`` answers for each of ``trials`` after its reports."""
        if not trials:
            return []
        if self._view is None:
            self._view = prune_view(trials[0].study)
        view = self._view
        return retrying(
            lambda: view.decide(trials, lambda t: self._values[t.number]),
            f"asking the pruner about trial {trials[0].number}",
        )

    def flush(self) -> None:
        """Write every report not written yet and the attached attrs (one transaction per trial)."""
        for trial in self.trials:
            pending, attrs = self._pending[trial.number], self._attrs[trial.number]
            if pending or attrs:
                retrying(functools.partial(write_trial, trial, pending, attrs), f"reporting trial {trial.number}")
                pending.clear()
                attrs.clear()
        self._flushed_at = time.monotonic()

    def __enter__(self) -> EpochReports:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            self.flush()
            return
        try:  # the job failed or was stopped: keep what it measured if the storage takes it at once
            for trial in self.trials:
                if self._pending[trial.number]:
                    write_trial(trial, self._pending[trial.number])
        except Exception as e:  # the job's own error is the one to report
            log.debug("reports of a stopped job not written: %s", e)
