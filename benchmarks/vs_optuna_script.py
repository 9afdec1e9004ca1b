"""tempopt against the Optuna + PyTorch script a user would write instead, in one run, alternating.

The script is written the way the Optuna examples are: a DataLoader per trial, the teacher run on
every batch (eval mode, no_grad), SQLite storage, TPE and the median pruner, the KD loss by hand.
``tempopt run`` gets the same task (all labels, no transfer set), search space (T, λ, lr), trials,
epochs, batch size, optimizer (AdamW, constant lr), sampler and pruner; its baseline and
verification are off, so both run the same search trials. Both use the same trained teacher.
Trials per hour count from the first trial's start to the last one's end in the storage (process
start-up and teacher training excluded for both). Tasks: ``digits`` (an MLP teacher), ``mnist1d``
(a 1-D CNN teacher, 4 000 labelled sequences) and ``conv_task:make_task`` (benchmarks/conv_task.py:
a 1.4 M-parameter conv teacher, where the script's per-batch teacher forward dominates).

Run: ``python benchmarks/vs_optuna_script.py [--repeats 2] [--trials 20] [--epochs 15] [--quick]
[--json PATH]``. Prints trials per hour of each, the ratio and the best value each reached.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import ratios as ratios_module  # benchmarks/ratios.py, beside this script
import torch
import torch.nn.functional as F
import yaml
from torch.utils.data import DataLoader

from tempopt.distill import prepare_teacher
from tempopt.tasks import load_task

HERE = Path(__file__).resolve().parent
TASKS = {  # all labels, no transfer set: both sides train on the same labelled data
    "digits": ("digits", {"teacher_epochs": 15}),
    "mnist1d": ("mnist1d", {"transfer": 0, "teacher_epochs": 20}),
    "conv": ("conv_task:make_task", {}),
}
SEARCH = {"temperature": (1.0, 20.0, True), "kd_weight": (0.0, 1.0, False), "lr": (1e-4, 1e-1, True)}
BATCH, SEED, STARTUP, WARMUP = 32, 0, 10, 3


def naive_study(task_ref: str, task_args: dict, url: str, name: str, trials: int, epochs: int, cache: str) -> None:
    """The plain script: what a user writes with Optuna and PyTorch alone."""
    sys.path.insert(0, str(HERE))
    task = load_task(task_ref, task_args)
    teacher = prepare_teacher(task, cache, device="cpu").model  # the same trained teacher as tempopt's
    teacher.eval()

    def objective(trial: optuna.Trial) -> float:
        t = trial.suggest_float("temperature", 1.0, 20.0, log=True)
        lam = trial.suggest_float("kd_weight", 0.0, 1.0)
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        torch.manual_seed(SEED)
        student = task.student()
        optimizer = torch.optim.AdamW(student.parameters(), lr=lr)
        train = DataLoader(task.train, batch_size=BATCH, shuffle=True)
        val = DataLoader(task.val, batch_size=1024)
        accuracy = 0.0
        for epoch in range(1, epochs + 1):
            student.train()
            for x, y in train:
                with torch.no_grad():
                    soft_targets = teacher(x)
                logits = student(x)
                kl = F.kl_div(
                    F.log_softmax(logits / t, -1),
                    F.log_softmax(soft_targets / t, -1),
                    reduction="batchmean",
                    log_target=True,
                )
                loss = (1 - lam) * F.cross_entropy(logits, y) + lam * t * t * kl
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            student.eval()
            with torch.no_grad():
                correct = sum(int((student(x).argmax(-1) == y).sum()) for x, y in val)
            accuracy = correct / len(task.val)
            trial.report(accuracy, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return accuracy

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        storage=url,
        study_name=name,
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=SEED, n_startup_trials=STARTUP),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=WARMUP),
    )
    study.optimize(objective, n_trials=trials)


def tempopt_study(
    task_ref: str, task_args: dict, url: str, name: str, trials: int, epochs: int, cache: str, folder: Path
) -> None:
    spec = {
        "name": name,
        "task": task_ref,
        "task_args": task_args,
        "epochs": epochs,
        "trials": trials,
        "search": {k: {"low": lo, "high": hi, "log": log} for k, (lo, hi, log) in SEARCH.items()},
        "batch_size": BATCH,
        "seed": SEED,
        "schedule": "constant",
        "device": "cpu",
        "cpu_threads": 1,
        "cache_dir": cache,
        "baseline": False,
        "verify": {"seeds": 0},
        "sampler": {"name": "tpe", "startup_trials": STARTUP, "multivariate": False},
        "pruner": {"name": "median", "warmup_epochs": WARMUP, "startup_trials": 4},
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    subprocess.run(
        [sys.executable, "-m", "tempopt", "run", str(path), "--storage", url, "-q"],
        check=True,
        capture_output=True,
        cwd=HERE,
        env={"PYTHONPATH": str(HERE), **_env()},
    )


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "TEMPOPT_STORAGE"}


def span(url: str, name: str) -> tuple[float, float, int]:
    """(seconds from the first trial's start to the last one's end, best value, trials)."""
    study = optuna.load_study(study_name=name, storage=url)
    done = [t for t in study.trials if t.datetime_complete is not None]
    seconds = (max(t.datetime_complete for t in done) - min(t.datetime_start for t in done)).total_seconds()
    best = max(t.value for t in done if t.value is not None)
    return seconds, best, len(done)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    ratios_module.add_options(parser)
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.trials, args.epochs = 1, 6, 4
    torch.set_num_threads(1)
    measured: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cache = str(folder / "cache")
        for key in args.tasks:
            ref, task_args = TASKS[key]
            sys.path.insert(0, str(HERE))
            prepare_teacher(load_task(ref, task_args), cache, device="cpu")  # trained once, outside the timing
            per_hour: dict[str, list[float]] = {"script": [], "tempopt": []}
            best: dict[str, list[float]] = {"script": [], "tempopt": []}
            for i in range(args.repeats):
                for side in ("script", "tempopt") if i % 2 == 0 else ("tempopt", "script"):
                    url, name = f"sqlite:///{folder / f'{key}-{side}-{i}.db'}", f"{key}-{side}-{i}-{time.time_ns()}"
                    if side == "script":
                        naive_study(ref, task_args, url, name, args.trials, args.epochs, cache)
                    else:
                        tempopt_study(ref, task_args, url, name, args.trials, args.epochs, cache, folder)
                    seconds, value, n = span(url, name)
                    per_hour[side].append(n * 3600 / seconds)
                    best[side].append(value)
            s, t = statistics.median(per_hour["script"]), statistics.median(per_hour["tempopt"])
            print(
                f"{key}: {args.trials} trials of {args.epochs} epochs; trials/h: script {s:,.0f}, tempopt {t:,.0f} "
                f"(tempopt/script {t / s:.2f}x); best val: script {max(best['script']):.4f}, "
                f"tempopt {max(best['tempopt']):.4f}"
            )
            measured[f"{key}_tempopt_over_script_trials_per_hour"] = t / s
            measured[f"{key}_best_script"] = max(best["script"])
            measured[f"{key}_best_tempopt"] = max(best["tempopt"])
    ratios_module.write(
        args.json, "vs_optuna_script", measured, trials=args.trials, epochs=args.epochs, repeats=args.repeats
    )


if __name__ == "__main__":
    main()
