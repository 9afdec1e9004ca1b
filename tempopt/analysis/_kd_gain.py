"""Did distillation help? The best distilled trial against the no-distillation baseline.

The baseline is the student trained alone: ``tempopt run`` enqueues a few trials with the user
attr ``baseline=True`` (``kd_weight = 0``, one per baseline learning rate) so the student gets a
fair lr, and the best complete one is the reference. The gain is
``best distilled value − best baseline value``.

Noise: a validation accuracy wobbles from epoch to epoch. The noise of a trial is the standard
deviation of the epoch-to-epoch changes over its last ``last_epochs`` intermediate values,
divided by √2: for independent wobble that equals the wobble's own standard deviation, while a
steady rise of a trial that is still learning changes every difference alike and does not count
as noise (the plain std of the last values would). The noise of the gain is
``sqrt(noise_baseline² + noise_best²)``.
Distillation *helped* only when the gain exceeds twice that; a gain within ±2 noise is
*no clear gain*, a loss beyond it is *hurt*. Without intermediate values the noise is unknown
and the verdict rests on the sign alone, which the summary says.

The best of many distilled trials is also the luckiest one, so the mean of the top ``top_k``
distilled trials and their spread are reported too: a best trial far above the others is
less trustworthy than a plateau of similar trials.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial

from tempopt.analysis._trials import complete_trials, is_baseline, is_distilled

LAST_EPOCHS = 5
TOP_K = 5
NOISE_FACTOR = 2.0

HELPED = "helped"
NO_CLEAR_GAIN = "no clear gain"
HURT = "hurt"
UNKNOWN = "unknown"


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


@dataclass(frozen=True)
class KDGain:
    """The KD gain and whether it is real.

    Attributes:
        baseline: the best complete baseline trial, or None when there is none.
        best_distilled: the best complete trial with ``kd_weight > 0``.
        gain: ``best_distilled.value - baseline.value``.
        noise: combined noise of the gain (None when unknown).
        top_k_mean: mean value of the ``top_k`` best distilled trials.
        top_k_std: their standard deviation.
        verdict: ``helped``, ``no clear gain``, ``hurt`` or ``unknown``.
        summary: one plain sentence for the report.
        n_baselines: complete baseline trials the best baseline was picked from.
    """

    baseline: TrialSummary | None
    best_distilled: TrialSummary | None
    gain: float | None
    noise: float | None
    top_k: int
    top_k_mean: float | None
    top_k_std: float | None
    verdict: str
    summary: str
    n_baselines: int = 0

    @property
    def helped(self) -> bool:
        """True only when distillation beat the baseline by more than the noise."""
        return self.verdict == HELPED


def summarise_trial(trial: FrozenTrial, last_epochs: int = LAST_EPOCHS) -> TrialSummary:
    """The trial's number, value, params and epoch-to-epoch noise."""
    steps = sorted(trial.intermediate_values)[-last_epochs:]
    changes = np.diff([trial.intermediate_values[s] for s in steps])
    noise = float(np.std(changes, ddof=1) / math.sqrt(2)) if len(changes) >= 2 else None
    assert trial.value is not None
    return TrialSummary(trial.number, float(trial.value), dict(trial.params), noise)


def kd_gain(
    study: optuna.Study, *, last_epochs: int = LAST_EPOCHS, top_k: int = TOP_K
) -> KDGain:
    """Compare the best distilled trial with the baseline trial.

    Args:
        study: a maximised study written by tempopt (read only).
        last_epochs: intermediate values per trial behind its noise estimate (3 or more).
        top_k: distilled trials behind ``top_k_mean`` and ``top_k_std``.

    Returns:
        The gain with its verdict, or a verdict ``unknown`` whose summary says what is missing.
    """
    trials = study.get_trials(deepcopy=False)
    done = complete_trials(trials)
    distilled = sorted((t for t in done if is_distilled(t)),
                       key=lambda t: -t.value)  # type: ignore[operator]
    best = summarise_trial(distilled[0], last_epochs) if distilled else None
    top = [float(t.value) for t in distilled[:top_k]]  # type: ignore[arg-type]
    top_mean = float(np.mean(top)) if top else None
    top_std = float(np.std(top, ddof=1)) if len(top) >= 2 else None
    baseline, n_baselines, missing = _baseline(trials, last_epochs)
    unknown = KDGain(baseline=baseline, best_distilled=best, gain=None, noise=None, top_k=top_k,
                     top_k_mean=top_mean, top_k_std=top_std, verdict=UNKNOWN, summary="",
                     n_baselines=n_baselines)
    if best is None or baseline is None:
        why = missing if baseline is None else "no distilled trial (kd_weight > 0) has completed"
        return replace(unknown, summary=f"KD gain unknown: {why}.")
    gain = best.value - baseline.value
    noise = _combined_noise(baseline, best)
    verdict = _verdict(gain, noise)
    return replace(unknown, gain=gain, noise=noise, verdict=verdict,
                   summary=_summary(verdict, gain, noise, baseline, n_baselines, best))


def _baseline(
    trials: list[FrozenTrial], last_epochs: int
) -> tuple[TrialSummary | None, int, str]:
    """The best complete baseline trial, how many completed, and what is missing if none."""
    marked = [t for t in trials if is_baseline(t)]
    if not marked:
        return None, 0, (
            "the study has no baseline trial (user attr baseline=True, kd_weight=0); "
            "it was probably written by an older tempopt"
        )
    done = complete_trials(marked)
    if not done:
        states = ", ".join(f"#{t.number} is {t.state.name}" for t in marked)
        return None, 0, f"no baseline trial has completed ({states})"
    best = max(done, key=lambda t: t.value)  # type: ignore[arg-type,return-value]
    return summarise_trial(best, last_epochs), len(done), ""


def _combined_noise(a: TrialSummary, b: TrialSummary) -> float | None:
    if a.noise is None or b.noise is None:
        return None
    return math.hypot(a.noise, b.noise)


def _verdict(gain: float, noise: float | None) -> str:
    threshold = NOISE_FACTOR * noise if noise is not None else 0.0
    if gain > threshold:
        return HELPED
    if gain < -threshold:
        return HURT
    return NO_CLEAR_GAIN


def _summary(
    verdict: str,
    gain: float,
    noise: float | None,
    base: TrialSummary,
    n_baselines: int,
    best: TrialSummary,
) -> str:
    of = f", best of {n_baselines}" if n_baselines > 1 else ""
    pair = (f"the best distilled trial #{best.number} ({best.value:.4f}) vs the baseline "
            f"#{base.number} ({base.value:.4f}{of})")
    noise_text = (f"the noise (±{noise:.4f})" if noise is not None
                  else "zero (the noise is unknown: too few intermediate values)")
    if verdict == HELPED:
        return f"Distillation helped: {gain:+.4f} for {pair}, more than twice {noise_text}."
    if verdict == HURT:
        return (f"Distillation did NOT help: {gain:+.4f} for {pair}, worse by more than twice "
                f"{noise_text}.")
    return (f"Distillation did NOT help clearly: {gain:+.4f} for {pair} is within twice "
            f"{noise_text}.")
