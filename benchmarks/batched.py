"""Batched trials against one trial at a time, measured in one run.

1. The training job: K = 16 students (different T, kd_weight, lr) trained together by
   :func:`tempopt.distill.members.fit_members`, against one student trained alone by
   :func:`tempopt.distill.run_job`, and against the 16 trained one after the other. Goal: the
   16 together in at most 3x the time of one (at least 5x the trials per hour). Two workloads
   (``--tasks``): the quickstart's MLP student, and ``mnist``'s ``resnet8`` student (BatchNorm)
   on 28×28 digits with random crops read from the teacher's view bank (a ``resnet20`` teacher).
2. The whole quickstart study (30 trials, search only: ``verify.seeds: 0``), ``tempopt run``
   with ``--batch-trials 16`` against the default, on fresh SQLite files, alternating.

Run: ``python benchmarks/batched.py [--repeats 3] [--threads 1] [-k 16 64] [--device cuda]
[--precision fp32 bf16] [--tasks quickstart mnist] [--no-study]``. Prints ratios; asserts nothing.
``benchmarks/gpu_check.sh`` runs it on a GPU.
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

import ratios as ratios_module  # benchmarks/ratios.py, beside this script
import torch
import yaml

from tempopt.distill import JobConfig, Teacher, prepare_teacher, run_job
from tempopt.distill.members import Member, fit_members, member_config
from tempopt.tasks import Task, load_task
from tempopt.tasks.augmentation import from_settings

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "studies" / "quickstart.yaml"


def members(k: int, seed: int = 0) -> list[Member]:
    rng = random.Random(seed)
    return [Member(10 ** rng.uniform(0, 1.3), rng.uniform(0, 1), 10 ** rng.uniform(-3, -1)) for _ in range(k)]


def workload(name: str, cache: str, device: str, bf16: bool, quick: bool) -> tuple[Task, Teacher, JobConfig]:
    """The task, its teacher and the shared job settings of ``quickstart`` or ``mnist``."""
    if name == "quickstart":
        spec = yaml.safe_load(QUICKSTART.read_text())
        task = load_task(spec["task"], spec["task_args"])
        epochs, batch_size, views = spec["epochs"], spec["batch_size"], 0
    else:  # a resnet8 student with BatchNorm, random crops, the view bank
        small = {"labelled": 64, "val": 100, "transfer": 64}
        sizes = small if quick else {"labelled": 500, "val": 500, "transfer": 1000}
        task = load_task("mnist", {**sizes, "teacher_arch": "resnet20", "student_arch": "resnet8", "teacher_epochs": 1})
        task.augment = from_settings(crop=2)
        epochs, batch_size = (1, 32) if quick else (3, 32)
        views = epochs
    teacher = prepare_teacher(task, cache, device=device, views=views)
    base = JobConfig(
        temperature=1.0,
        kd_weight=0.0,
        lr=0.01,
        epochs=epochs,
        batch_size=batch_size,
        device=device,
        mixed_precision=bf16,
        views=views,
    )
    return task, teacher, base


def job_times(
    repeats: int, k: int, cache: str, device: str = "cpu", bf16: bool = False, name: str = "quickstart", quick=False
) -> tuple[float, float, float]:
    """Median seconds of: one job alone, k jobs one after the other, k jobs together."""
    task, teacher, base = workload(name, cache, device, bf16, quick)
    group = members(k)
    run_job(task, member_config(base, group[1]), teacher)  # warm-up: lazy initialisation, kernels
    fit_members(task, base, group, teacher)
    one, sequential, together = [], [], []
    for _ in range(repeats):
        one.append(_seconds(lambda: run_job(task, member_config(base, group[1]), teacher), device))
        sequential.append(
            _seconds(
                lambda: [run_job(task, member_config(base, m), teacher if m.kd_weight > 0 else None) for m in group],
                device,
            )
        )
        together.append(_seconds(lambda: fit_members(task, base, group, teacher), device))
    return statistics.median(one), statistics.median(sequential), statistics.median(together)


def _seconds(work, device: str) -> float:
    start = time.perf_counter()
    work()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def study_seconds(batch: int, folder: Path, threads: int) -> float:
    """Seconds of ``tempopt run`` on the quickstart study, search only, on a fresh SQLite file."""
    spec = yaml.safe_load(QUICKSTART.read_text())
    spec.update(verify={"top_k": 3, "seeds": 0}, cache_dir=str(folder / "cache"), cpu_threads=threads)
    path = folder / f"study-{batch}-{time.monotonic_ns()}.yaml"
    path.write_text(yaml.safe_dump(spec))
    db = folder / f"{path.stem}.db"
    cmd = [
        sys.executable,
        "-m",
        "tempopt",
        "run",
        str(path),
        "--storage",
        f"sqlite:///{db}",
        "-q",
        "--batch-trials",
        str(batch),
    ]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=folder)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("-k", type=int, nargs="+", default=[16], help="batch sizes K to measure, e.g. -k 16 64")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument(
        "--precision", nargs="+", default=["fp32"], choices=["fp32", "bf16"], help="bf16 autocast applies on CUDA only"
    )
    parser.add_argument("--no-study", action="store_true", help="skip the whole-study comparison (CPU)")
    parser.add_argument("--tasks", nargs="+", default=["quickstart", "mnist"], choices=["quickstart", "mnist"])
    ratios_module.add_options(parser)
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.k, args.no_study = 1, [4], True
    measured: dict[str, float] = {}
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU thread(s), device {args.device}"
        + (f" ({torch.cuda.get_device_name()})" if args.device.startswith("cuda") else "")
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        alone: dict[str, float] = {}
        for name in args.tasks:
            for precision in args.precision:
                for k in args.k:
                    one, sequential, together = job_times(
                        args.repeats, k, str(folder / "cache"), args.device, precision == "bf16", name, args.quick
                    )
                    alone[precision] = one
                    print(
                        f"[{precision}] {name} job: 1 alone {one:.3f} s, {k} one after the other "
                        f"{sequential:.3f} s, {k} together {together:.3f} s"
                    )
                    print(
                        f"  {k} together / 1 alone = {together / one:.2f}x (goal <= 3x at K = 16); trials per hour: "
                        f"{k} together / one at a time = {sequential / together:.2f}x, / 1 alone = "
                        f"{k * one / together:.2f}x ({k * 3600 / together:,.0f} against {3600 / one:,.0f})"
                    )
                    prefix = "" if name == "quickstart" else f"{name}_"
                    measured[f"{prefix}{precision}_k{k}_together_over_one"] = together / one
                    measured[f"{prefix}{precision}_k{k}_trials_per_hour_over_one_at_a_time"] = sequential / together
        if {"fp32", "bf16"} <= alone.keys():
            print(f"1 alone, bf16 / fp32 wall time = {alone['bf16'] / alone['fp32']:.2f}x")
        if args.no_study:
            ratios_module.write(args.json, "batched", measured, device=args.device, repeats=args.repeats)
            return
        k = max(args.k)
        study_seconds(1, folder, args.threads)  # the teacher is trained and cached once, not timed
        plain, batched = [], []
        for i in range(args.repeats):  # alternating, so drift cancels
            for batch in (1, k) if i % 2 == 0 else (k, 1):
                (plain if batch == 1 else batched).append(study_seconds(batch, folder, args.threads))
        p, b = statistics.median(plain), statistics.median(batched)
        measured["study_trials_per_hour_batched_over_one"] = p / b
        ratios_module.write(args.json, "batched", measured, device=args.device, repeats=args.repeats)
        print(
            f"quickstart study, 30 trials (search only): one at a time {p:.1f} s ({30 * 3600 / p:,.0f} trials/h), "
            f"--batch-trials {k} {b:.1f} s ({30 * 3600 / b:,.0f} trials/h): {p / b:.2f}x trials per hour"
        )


if __name__ == "__main__":
    main()
