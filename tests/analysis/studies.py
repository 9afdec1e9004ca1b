"""Synthetic tempopt studies whose truth is known: the value is a function of the params."""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable

import numpy as np
import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

optuna.logging.set_verbosity(optuna.logging.WARNING)

DISTRIBUTIONS = {
    "temperature": FloatDistribution(1.0, 20.0, log=True),
    "kd_weight": FloatDistribution(0.0, 1.0),
    "lr": FloatDistribution(1e-4, 1e-1, log=True),
}
SPEC = {
    "name": "kd",
    "task": "digits",
    "task_args": {"n_train": 512},
    "epochs": 5,
    "trials": 60,
    "search": {
        "temperature": {"low": 1.0, "high": 20.0, "log": True},
        "kd_weight": {"low": 0.0, "high": 1.0, "log": False},
        "lr": {"low": 1e-4, "high": 1e-1, "log": True},
    },
    "seed": 0,
    "sampler": {"name": "tpe", "startup_trials": 10},
    "pruner": {"name": "median", "warmup_epochs": 2},
    "verify": {"top_k": 3, "seeds": 3},
}
START = datetime.datetime(2025, 1, 1, 12, 0, 0)

ValueFn = Callable[[dict[str, float]], float]


def sample_params(rng: np.random.Generator) -> dict[str, float]:
    """Params drawn like a random sampler would: log-uniform for log ranges."""
    params = {}
    for name, d in DISTRIBUTIONS.items():
        if d.log:
            params[name] = float(math.exp(rng.uniform(math.log(d.low), math.log(d.high))))
        else:
            params[name] = float(rng.uniform(d.low, d.high))
    return params


def curve(final: float, epochs: int, jitter: float, rng: np.random.Generator) -> dict[int, float]:
    """Validation accuracy per epoch rising to ``final``, with epoch-to-epoch jitter."""
    return {e: final - 0.1 * (epochs - e) / epochs + float(rng.normal(0, jitter)) for e in range(1, epochs + 1)}


def add(
    study: optuna.Study,
    number: int,
    params: dict[str, float],
    state: TrialState,
    value: float | None,
    intermediate: dict[int, float],
    **attrs: object,
) -> None:
    trial = optuna.trial.create_trial(
        state=state,
        value=value,
        params=params,
        distributions={k: DISTRIBUTIONS[k] for k in params},
        intermediate_values=intermediate,
        user_attrs={
            "worker": f"host:{100 + number % 2}",
            "seed": number,
            "epochs_run": len(intermediate),
            "job_seconds": 30.0,
            "device": "cpu",
            **attrs,
        },
    )
    trial.datetime_start = START + datetime.timedelta(seconds=20 * number)
    trial.datetime_complete = trial.datetime_start + datetime.timedelta(seconds=35)
    study.add_trial(trial)


def make_study(
    value_fn: ValueFn,
    n: int = 60,
    *,
    seed: int = 0,
    baseline: float | list[float] | None = 0.80,
    pruned: int = 0,
    epochs: int = 5,
    noise: float = 0.002,
    jitter: float = 0.002,
    storage: str | None = None,
    name: str = "kd",
    legacy: bool = False,
) -> optuna.Study:
    """A study like the runner writes: its baseline sibling ``NAME:baseline``, and ``n`` complete
    distilled trials.

    Args:
        value_fn: the final accuracy as a function of the params (before noise).
        n: complete non-baseline trials.
        baseline: the best baseline trial's value (five baseline trials, the others a little
            lower, the best in the middle of the lr range), or a list: one trial per value, as
            with several baseline learning rates; None leaves them out (an old study).
        legacy: the baseline trials among the study's own (with a fixed temperature and
            ``kd_weight``), as tempopt wrote them before the sibling existed.
        pruned: extra PRUNED trials (2 epochs each, no value).
        noise: std of the noise on each final value.
        jitter: std of the epoch-to-epoch wobble of the intermediate values.
    """
    rng = np.random.default_rng(seed)
    baseline_rng = np.random.default_rng(seed + 1)  # the sampled trials do not depend on it
    study = optuna.create_study(direction="maximize", storage=storage, study_name=name)
    study.set_user_attr("spec", SPEC)
    study.set_user_attr("task", "digits")
    study.set_user_attr("teacher_accuracy", 0.95)
    study.set_user_attr("teacher_key", "digits-abc123")
    study.set_user_attr("tempopt_version", "0.1.0")
    number = 0
    if isinstance(baseline, float):
        baseline = [baseline - 0.02, baseline - 0.01, baseline, baseline - 0.015, baseline - 0.005]
    baselines = baseline or []
    sibling = study
    if baselines and not legacy:
        sibling = optuna.create_study(direction="maximize", storage=study._storage, study_name=f"{name}:baseline")
        sibling.set_user_attr("search_study", name)
        sibling.set_user_attr("search_study_id", study._study_id)
        study.set_user_attr("baseline_study", sibling.study_name)
    for index, (lr, value) in enumerate(zip(np.logspace(-3.25, -1.75, len(baselines)), baselines, strict=True)):
        params = {"temperature": math.sqrt(20.0), "kd_weight": 0.0, "lr": float(lr)} if legacy else {"lr": float(lr)}
        add(
            sibling,
            number if legacy else index,
            params,
            TrialState.COMPLETE,
            value,
            curve(value, epochs, jitter, baseline_rng),
            baseline=True,
            best_val_accuracy=value,
        )
        number += legacy
    for _ in range(n):
        params = sample_params(rng)
        value = value_fn(params) + float(rng.normal(0, noise))
        add(
            study,
            number,
            params,
            TrialState.COMPLETE,
            value,
            curve(value, epochs, jitter, rng),
            baseline=False,
            best_val_accuracy=value,
        )
        number += 1
    for _ in range(pruned):
        params = sample_params(rng)
        add(study, number, params, TrialState.PRUNED, None, {1: 0.2, 2: 0.25}, baseline=False)
        number += 1
    return study


def only_temperature(p: dict[str, float]) -> float:
    """Peaks at T = 4 (log10 T = 0.6), nothing else matters."""
    return 0.85 - 0.2 * (math.log10(p["temperature"]) - 0.6) ** 2


def temperature_times_kd(p: dict[str, float]) -> float:
    """T matters only through kd_weight: a pure interaction plus a kd_weight main effect."""
    return 0.70 + 0.15 * p["kd_weight"] * (1 - (math.log10(p["temperature"]) - 0.6) ** 2 / 0.4)


def add_verification(
    study: optuna.Study,
    distilled: float | list[float],
    baseline: float,
    *,
    seeds: tuple[int, ...] = (1, 2, 3),
    examples: int = 500,
    split: str = "test",
    rng_seed: int = 0,
) -> optuna.Study:
    """A verification study beside ``study``, as ``tempopt.study.verification.worker`` writes one.

    Each replicate gets right a random subset of ``examples`` held-out examples of its side's
    accuracy (``distilled`` may list one accuracy per distilled rank). The distilled configs
    are the best distilled trials of ``study``, the baseline its best baseline trial.
    """
    from tempopt.study.stored import VERIFY_ATTR, baseline_trials, encode_correct, verification_name

    rng = np.random.default_rng(rng_seed)
    done = sorted((t for t in study.trials if t.state == TrialState.COMPLETE), key=lambda t: -t.value)
    ranked = [t for t in done if not t.user_attrs.get("baseline")]
    accs = [distilled] if isinstance(distilled, float) else distilled
    configs = [("distilled", r + 1, ranked[r], acc) for r, acc in enumerate(accs)]
    best_baseline = max(baseline_trials(study, states=(TrialState.COMPLETE,)), key=lambda t: t.value)
    configs.append(("baseline", 0, best_baseline, baseline))
    name = verification_name(study.study_name, len(study.trials))
    verify = optuna.create_study(direction="maximize", storage=study._storage, study_name=name)
    keys = []
    for role, rank, source, acc in configs:
        for seed in seeds:
            correct = rng.random(examples) < acc
            key = f"{role}-{rank}-seed{seed}"
            keys.append(key)
            verify.add_trial(
                optuna.trial.create_trial(
                    state=TrialState.COMPLETE,
                    value=float(acc + rng.normal(0, 0.003)),
                    params=source.params,
                    distributions=source.distributions,
                    user_attrs={
                        "role": role,
                        "rank": rank,
                        "source_trial": source.number,
                        "student_seed": seed,
                        "replicate": key,
                        "test_accuracy": float(correct.mean()),
                        "test_split": split,
                        "test_examples": examples,
                        "test_correct": encode_correct(correct),
                    },
                )
            )
    verify.set_user_attr("plan", keys)
    study.set_user_attr(VERIFY_ATTR, name)
    return verify
