"""Batched trials against one trial at a time, measured in one run.

1. The training job: K = 16 quickstart students (different T, kd_weight, lr) trained together
   by :func:`tempopt.distill.members.fit_members`, against one student trained alone by
   :func:`tempopt.distill.run_job`, and against the 16 trained one after the other. Goal: the
   16 together in at most 3x the time of one (at least 5x the trials per hour).
2. The whole quickstart study (30 trials, search only: ``verify.seeds: 0``), ``tempopt run``
   with ``--batch-trials 16`` against the default, on fresh SQLite files, alternating.

Run: ``python benchmarks/batched.py [--repeats 3] [--threads 1]``. Prints ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

from tempopt.distill import JobConfig, prepare_teacher, run_job
from tempopt.distill.members import Member, fit_members, member_config
from tempopt.tasks import load_task

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "studies" / "quickstart.yaml"


def members(k: int, seed: int = 0) -> list[Member]:
    rng = random.Random(seed)
    return [Member(10 ** rng.uniform(0, 1.3), rng.uniform(0, 1), 10 ** rng.uniform(-3, -1)) for _ in range(k)]


def job_times(repeats: int, k: int, cache: str) -> tuple[float, float, float]:
    """Median seconds of: one job alone, k jobs one after the other, k jobs together."""
    spec = yaml.safe_load(QUICKSTART.read_text())
    task = load_task(spec["task"], spec["task_args"])
    teacher = prepare_teacher(task, cache, device="cpu")
    base = JobConfig(temperature=1.0, kd_weight=0.0, lr=0.01, epochs=spec["epochs"], batch_size=spec["batch_size"],
                     device="cpu")
    group = members(k)
    one, sequential, together = [], [], []
    for _ in range(repeats):
        start = time.perf_counter()
        run_job(task, member_config(base, group[1]), teacher)
        one.append(time.perf_counter() - start)
        start = time.perf_counter()
        for m in group:
            run_job(task, member_config(base, m), teacher if m.kd_weight > 0 else None)
        sequential.append(time.perf_counter() - start)
        start = time.perf_counter()
        fit_members(task, base, group, teacher)
        together.append(time.perf_counter() - start)
    return statistics.median(one), statistics.median(sequential), statistics.median(together)


def study_seconds(batch: int, folder: Path, threads: int) -> float:
    """Seconds of ``tempopt run`` on the quickstart study, search only, on a fresh SQLite file."""
    spec = yaml.safe_load(QUICKSTART.read_text())
    spec.update(verify={"top_k": 3, "seeds": 0}, cache_dir=str(folder / "cache"), cpu_threads=threads)
    path = folder / f"study-{batch}-{time.monotonic_ns()}.yaml"
    path.write_text(yaml.safe_dump(spec))
    db = folder / f"{path.stem}.db"
    cmd = [sys.executable, "-m", "tempopt", "run", str(path), "--storage", f"sqlite:///{db}", "-q",
           "--batch-trials", str(batch)]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=folder)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("-k", type=int, default=16)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU thread(s), K = {args.k}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        one, sequential, together = job_times(args.repeats, args.k, str(folder / "cache"))
        print(f"quickstart job: 1 alone {one:.3f} s, {args.k} one after the other {sequential:.3f} s, "
              f"{args.k} together {together:.3f} s")
        print(f"  {args.k} together / 1 alone = {together / one:.2f}x (goal <= 3x); trials per hour "
              f"{args.k} together / one at a time = {sequential / together:.2f}x")
        study_seconds(1, folder, args.threads)  # the teacher is trained and cached once, not timed
        plain, batched = [], []
        for i in range(args.repeats):  # alternating, so drift cancels
            for batch in (1, args.k) if i % 2 == 0 else (args.k, 1):
                (plain if batch == 1 else batched).append(study_seconds(batch, folder, args.threads))
        p, b = statistics.median(plain), statistics.median(batched)
        print(f"quickstart study, 30 trials (search only): one at a time {p:.1f} s ({30 * 3600 / p:,.0f} trials/h), "
              f"--batch-trials {args.k} {b:.1f} s ({30 * 3600 / b:,.0f} trials/h): {p / b:.2f}x trials per hour")


if __name__ == "__main__":
    main()
