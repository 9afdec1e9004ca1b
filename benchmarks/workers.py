"""Trials per hour of ``tempopt launch`` with 1 worker and with N workers on the CPU.

The same fixed-size study runs three times, each time as a new study in the same storage:
trials never pruned, a fixed number of epochs, ``kd_weight > 0`` (so every job also trains on
the transfer set) and no baseline (a student alone skips the transfer set, a shorter job). The
teacher is trained once beforehand, so no run pays for it. ``tempopt launch`` gives each worker
its share of the cores (``TEMPOPT_NUM_THREADS``):

1. 1 worker with every core (its share);
2. 1 worker with ``cpu_threads: 1``: the control, one core busy, the others idle;
3. N workers, one share each.

Two rates are printed for each run: over the whole command (start-up included, what a user
waits for) and over its trials alone (first trial started to last trial finished), then the
ratios of run 3 over runs 1 and 2, e.g. on a 2-core VM (SQLite)::

    workers  threads  trials  wall s  trials/h (wall)  trials/h (trials)
          1        2     120   106.2             4068               4317
          1        1     120   101.7             4248               4532
          2        1     120    56.8             7599               8780
    2 workers / 1 worker: 1.87x (wall), 2.03x (trials)
    2 workers / 1 worker on 1 thread: 1.79x (wall), 1.94x (trials)

On a machine where anything else runs, run 1 is the slow one: a small model gains nothing from
a second intra-op thread, and a team of OpenMP threads stalls whenever one of them is
preempted. Run it on an otherwise idle machine.

Run: ``python benchmarks/workers.py [--workers 2] [--trials 120] [--epochs 32] [--storage URL]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import optuna
import ratios as ratios_module  # benchmarks/ratios.py, beside this script
import yaml
from optuna.trial import TrialState

from tempopt.distill import prepare_teacher
from tempopt.launch.launcher import available_cores
from tempopt.study import load_spec
from tempopt.study.spec.host import cache_dir, load_spec_task
from tempopt.study.storage.opening import normalise_url


def study_file(
    folder: Path, name: str, trials: int, epochs: int, batch_size: int, cpu_threads: int | None = None
) -> Path:
    """A digits study whose every trial does the same work."""
    spec = {
        "name": name,
        "task": "digits",
        "task_args": {"labelled": 300, "student_hidden": 32},
        "epochs": epochs,
        "trials": trials,
        "search": {
            "temperature": {"low": 1.0, "high": 10.0, "log": True},
            "kd_weight": {"low": 0.1, "high": 1.0},
            "lr": {"low": 1.0e-3, "high": 1.0e-1, "log": True},
        },
        "batch_size": batch_size,
        "device": "cpu",
        "baseline": False,
        "sampler": {"name": "random"},
        "pruner": {"name": "none"},
        "cache_dir": str(folder / "cache"),
        "failure": {"heartbeat_interval": 10, "grace_period": 60},
    }
    if cpu_threads is not None:
        spec["cpu_threads"] = cpu_threads
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@dataclass
class Run:
    workers: int
    threads: int
    trials: int
    wall: float
    busy: float

    def per_hour(self, seconds: float) -> float:
        return self.trials / seconds * 3600


def launch(path: Path, url: str, workers: int, folder: Path, threads: int, expected: int) -> Run:
    """Run ``tempopt launch`` on the study file and time it."""
    name = path.stem
    cmd = [
        sys.executable,
        "-m",
        "tempopt",
        "launch",
        str(path),
        "--workers",
        str(workers),
        "--storage",
        url,
        "--log-dir",
        str(folder / f"logs-{name}"),
    ]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=folder, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    trials = optuna.load_study(study_name=name, storage=normalise_url(url)).get_trials(deepcopy=False)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    # a trial a worker started beyond the budget (two workers asking at once) goes back to the
    # queue unstarted, and stays WAITING once the budget is spent: it is not a failure
    failed = [t for t in trials if t.state not in (TrialState.COMPLETE, TrialState.WAITING)]
    if failed or len(done) != expected:
        raise SystemExit(
            f"{name}: {len(done)} of {expected} trials completed, {len(failed)} did not; see {folder}/logs-{name}"
        )
    first = min(t.datetime_start for t in done)
    last = max(t.datetime_complete for t in done)
    return Run(workers, threads, len(done), wall, (last - first).total_seconds())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="workers of the second run")
    parser.add_argument("--trials", type=int, default=120)
    parser.add_argument("--epochs", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--storage", default=None, help="default: a SQLite file in a temporary folder")
    ratios_module.add_options(parser)
    args = parser.parse_args()
    if args.quick:
        args.trials, args.epochs = 12, 4
    cores = available_cores()

    with tempfile.TemporaryDirectory(prefix="tempopt-bench-") as tmp:
        folder = Path(tmp)
        url = args.storage or f"sqlite:///{folder / 'bench.db'}"
        suffix = str(int(time.time()))  # new studies each time, also in a shared server database
        size = (args.trials, args.epochs, args.batch_size)
        one = study_file(folder, f"bench-1w-{suffix}", *size)
        control = study_file(folder, f"bench-1w1t-{suffix}", *size, cpu_threads=1)
        many = study_file(folder, f"bench-{args.workers}w-{suffix}", *size)
        spec = load_spec(one)
        # every run reuses it
        prepare_teacher(load_spec_task(spec), cache_dir(spec), device="cpu", seed=spec.teacher.seed)
        runs = [
            launch(one, url, 1, folder, cores, args.trials),
            launch(control, url, 1, folder, 1, args.trials),
            launch(many, url, args.workers, folder, max(1, cores // args.workers), args.trials),
        ]

    print(f"{cores} cores, {args.trials} trials of {args.epochs} epochs (batch {args.batch_size}) per run")
    print(
        f"{'workers':>7}  {'threads':>7}  {'trials':>6}  {'wall s':>6}  {'trials/h (wall)':>15}  "
        f"{'trials/h (trials)':>17}"
    )
    for r in runs:
        print(
            f"{r.workers:>7}  {r.threads:>7}  {r.trials:>6}  {r.wall:>6.1f}  {r.per_hour(r.wall):>15.0f}  "
            f"{r.per_hour(r.busy):>17.0f}"
        )
    one, control, many = runs
    n = many.workers
    print(f"{n} workers / 1 worker: {one.wall / many.wall:.2f}x (wall), {one.busy / many.busy:.2f}x (trials)")
    print(
        f"{n} workers / 1 worker on 1 thread: {control.wall / many.wall:.2f}x (wall), "
        f"{control.busy / many.busy:.2f}x (trials)"
    )
    measured = {
        "workers_over_one_wall": one.wall / many.wall,
        "workers_over_one_trials": one.busy / many.busy,
        "workers_over_one_thread_wall": control.wall / many.wall,
    }
    ratios_module.write(args.json, "workers", measured, workers=n, cores=cores, trials=args.trials, epochs=args.epochs)


if __name__ == "__main__":
    main()
