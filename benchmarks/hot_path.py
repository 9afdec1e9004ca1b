"""How much tempopt's training loop costs over a bare PyTorch loop doing the same work.

For each task (digits and mnist1d, each with a transfer set) and each device (the CPU, and
CUDA when there is one), this times one epoch of :func:`tempopt.distill.fit` and one epoch of
a hand-written loop with the same student, the same batches in the same order, the same KD
loss on cached teacher logits, the same optimiser and schedule, and the same validation pass.
It prints the median milliseconds per epoch of each and the median of the ratios of runs made
back to back, e.g. ``digits cpu tempopt 3.55 ms/epoch bare 3.47 ms/epoch tempopt/bare = 1.02x``.

The two loops draw the same random numbers, so on the CPU they train the very same student;
the script checks that their final accuracies agree, so that the comparison is of like with like.

Run: ``python benchmarks/hot_path.py [--repeats 5] [--epochs 6] [--threads N] [--clock thread]``;
on a machine busy with other work, ``--threads 1 --clock thread`` counts only this process's
own CPU time and gives steadier ratios.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import math
import statistics
import tempfile
import time
from pathlib import Path

import ratios as ratios_module  # benchmarks/ratios.py, beside this script
import torch
import torch.nn.functional as F
from torch import Tensor, nn

import tempopt
from tempopt.distill import JobConfig, Teacher, fit, prepare_teacher
from tempopt.distill.device import autocast
from tempopt.distill.job import TRANSFER_STREAM
from tempopt.tasks import Task, load_task

CLOCK = time.perf_counter  # --clock thread: CPU time of this thread, for a busy machine

TASKS = {
    "digits": {"labelled": 500},
    "mnist1d": {},  # 4 000 labelled, 1 000 validation, 20 000 transfer sequences
}


def tempopt_epochs(student: nn.Module, task: Task, config: JobConfig, teacher: Teacher) -> tuple[list[float], float]:
    """Seconds of each epoch after the first (which also pays for setup) and final accuracy."""
    stamps: list[float] = []

    def on_epoch(epoch: int, accuracy: float) -> bool:
        _sync(config.device)
        stamps.append(CLOCK())
        return False

    result = fit(student, task, config, teacher, on_epoch)
    return _diffs(stamps), result.final_accuracy


def bare_epochs(student: nn.Module, task: Task, config: JobConfig, teacher: Teacher) -> tuple[list[float], float]:
    """The same training, written out by hand: tensors on the device, indexing, one loss."""
    device = torch.device(config.device)
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    model = student.to(device)
    x, y = (t.to(device) for t in task.train.tensors)  # (N, ...), (N,)
    xt = task.transfer.tensors[0].to(device)  # (M, ...)
    xv, yv = (t.to(device) for t in task.val.tensors)
    logits_train, logits_transfer = teacher.train_logits, teacher.transfer_logits  # (N, C), (M, C)
    temp, lam, bs, amp = config.temperature, config.kd_weight, config.batch_size, config.mixed_precision
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs)
    steps = math.ceil(len(x) / bs)
    bt = math.ceil(len(xt) / steps)  # the transfer batch of a step: one pass over xt per epoch
    transfer_gen = torch.Generator().manual_seed(config.seed + TRANSFER_STREAM)

    def soft(s: Tensor, t: Tensor) -> Tensor:
        log_s, log_t = F.log_softmax(s / temp, dim=-1), F.log_softmax(t / temp, dim=-1)
        return F.kl_div(log_s, log_t, reduction="batchmean", log_target=True) * temp**2

    stamps: list[float] = []
    accuracy = 0.0
    for _ in range(config.epochs):
        model.train()
        order = torch.randperm(len(x), generator=gen).to(device)
        order_t = torch.randperm(len(xt), generator=transfer_gen).to(device)
        for i in range(steps):
            idx, idt = order[i * bs : (i + 1) * bs], order_t[i * bt : (i + 1) * bt]
            with autocast(device, amp):
                s = model(x[idx])  # (B, C)
                st = model(xt[idt])  # (B_t, C)
            s_all = torch.cat([s, st]).float()  # (B + B_t, C)
            t_all = torch.cat([logits_train[idx], logits_transfer[idt]])
            loss = (1 - lam) * F.cross_entropy(s_all[: len(idx)], y[idx]) + lam * soft(s_all, t_all)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sched.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(xv), max(bs, 1024)):
                with autocast(device, amp):
                    correct += int((model(xv[i : i + 1024]).argmax(-1) == yv[i : i + 1024]).sum())
        accuracy = correct / len(xv)
        _sync(config.device)
        stamps.append(CLOCK())
    return _diffs(stamps), accuracy


def _diffs(stamps: list[float]) -> list[float]:
    return [b - a for a, b in zip(stamps[:-1], stamps[1:], strict=True)]


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def bench(name: str, device: str, repeats: int, epochs: int, cache_dir: str) -> float:
    task = load_task(name, TASKS[name])
    teacher_task = dataclasses.replace(task, teacher_epochs=1)  # its quality does not matter here
    teacher = prepare_teacher(teacher_task, cache_dir, device=device)
    config = JobConfig(temperature=4.0, kd_weight=0.7, lr=3e-3, epochs=epochs, device=device)
    torch.manual_seed(config.seed)
    student = task.student()
    ours: list[float] = []
    bare: list[float] = []
    ratios: list[float] = []
    same = True
    for i in range(repeats):  # pairs run back to back, in alternating order, so drift cancels
        runs = {}
        for loop in ("tempopt", "bare") if i % 2 == 0 else ("bare", "tempopt"):
            run = tempopt_epochs if loop == "tempopt" else bare_epochs
            times, accuracy = run(copy.deepcopy(student), task, config, teacher)
            runs[loop] = (statistics.median(times), accuracy)
        ours.append(runs["tempopt"][0])
        bare.append(runs["bare"][0])
        ratios.append(ours[-1] / bare[-1])
        same = same and runs["tempopt"][1] == runs["bare"][1]
    spread = f"{min(ratios):.3f}-{max(ratios):.3f}"
    print(
        f"{name:8s} {device:5s} tempopt {1e3 * statistics.median(ours):7.2f} ms/epoch"
        f"  bare {1e3 * statistics.median(bare):7.2f} ms/epoch"
        f"  tempopt/bare = {statistics.median(ratios):.3f}x (pairs {spread})"
        f"  same accuracy: {'yes' if same else 'no (expected on CUDA: atomics)'}"
    )
    return statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=6, help="per run; the first is not timed")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--tasks", nargs="*", default=list(TASKS))
    parser.add_argument(
        "--clock",
        choices=["wall", "thread"],
        default="wall",
        help="thread: count only this thread's CPU time (with --threads 1 on a busy machine; CPU only)",
    )
    parser.add_argument("--devices", nargs="*", default=["cpu", "cuda"], help="cuda is skipped without one")
    ratios_module.add_options(parser)
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.epochs = 2, 3
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.clock == "thread":
        global CLOCK
        CLOCK = time.thread_time
        args.devices = ["cpu"]
    devices = [d for d in args.devices if d == "cpu" or torch.cuda.is_available()]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, devices: {devices}")
    print(f"tempopt from {Path(tempopt.__file__).parent}, {args.clock} clock")
    measured = {}
    with tempfile.TemporaryDirectory() as cache_dir:
        for device in devices:
            for name in args.tasks:
                measured[f"{name}_{device}_tempopt_over_bare"] = bench(
                    name, device, args.repeats, args.epochs, cache_dir
                )
    ratios_module.write(args.json, "hot_path", measured, repeats=args.repeats, epochs=args.epochs, clock=args.clock)


if __name__ == "__main__":
    main()
