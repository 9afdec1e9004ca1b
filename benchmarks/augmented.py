"""What a trial costs under random-crop augmentation: with the view bank, with a live teacher, without.

The same trials (one list of sampled T, λ, lr, kd_weight > 0) are trained on ``mnist`` (28×28
real digits, a ``resnet8x4`` teacher of about 14× the ``resnet8`` student's multiply-adds) three
ways, on one CPU thread:

- ``plain``: no augmentation; the teacher's logits come from the cache (today's fast path);
- ``bank``: ``augment: {crop: 2, flip: true}`` with the view bank (``teacher.views`` = epochs):
  the teacher's logits on every view were computed once before the trials;
- ``live``: the same augmentation with ``teacher.views: 0``: the teacher runs on every batch.

It prints the trials per hour of each arm and their ratios (goal: ``bank`` costs at most 1.5×
``plain`` and at least 3× less than ``live``), the bank's build time and its size. Every arm uses
one teacher checkpoint, so the teacher's training is not timed (nor how good it is: this measures
speed).

Run: ``python benchmarks/augmented.py [--trials 4] [--quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import copy
import random
import tempfile
import time
from pathlib import Path

import ratios as ratios_module  # benchmarks/ratios.py, beside this script
import torch
from torch import nn

from tempopt.distill import JobConfig, prepare_teacher, run_job
from tempopt.tasks import load_task
from tempopt.tasks.augmentation import from_settings

TEACHER, STUDENT = "resnet8x4", "resnet8"


def multiply_adds(model: nn.Module, shape: tuple[int, ...]) -> int:
    """Multiply-adds of one forward pass of ``model`` on one input of ``shape`` (convolutions and linears)."""
    total = 0

    def count(module: nn.Module, _inputs: tuple, out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            kernel = module.kernel_size[0] * module.kernel_size[1]
            total += out.numel() * (module.in_channels // module.groups) * kernel
        elif isinstance(module, nn.Linear):
            total += out.numel() * module.in_features

    hooks = [m.register_forward_hook(count) for m in model.modules()]
    with torch.no_grad():
        model.eval()(torch.zeros(1, *shape))
    for hook in hooks:
        hook.remove()
    return total


def configs(n: int, epochs: int, views: int) -> list[JobConfig]:
    """``n`` distilled trials as a search would sample them (seeded: the same list for every arm)."""
    rng = random.Random(0)
    return [
        JobConfig(
            temperature=2 ** rng.uniform(0, 4),
            kd_weight=rng.uniform(0.2, 1.0),
            lr=10 ** rng.uniform(-3, -1.5),
            epochs=epochs,
            batch_size=128,
            device="cpu",
            views=views,
        )
        for _ in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=4)
    ratios_module.add_options(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    sizes = {"labelled": 256, "val": 256, "transfer": 256} if args.quick else {"labelled": 500, "val": 500}
    trials, epochs = (2, 2) if args.quick else (args.trials, args.epochs)
    task_args = {**sizes, "teacher_arch": TEACHER, "student_arch": STUDENT, "teacher_epochs": 1}
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        plain = load_task("mnist", task_args)
        teacher = prepare_teacher(plain, cache, device="cpu")  # trained once, then a checkpoint for every arm
        checkpoint = cache / "teacher.pt"
        torch.save(teacher.model.state_dict(), checkpoint)
        plain.teacher_checkpoint = checkpoint
        augmented = copy.copy(plain)
        augmented.augment = from_settings(crop=2, flip=True)
        teachers = {"plain": prepare_teacher(plain, cache, device="cpu")}
        start = time.perf_counter()
        teachers["bank"] = prepare_teacher(augmented, cache, device="cpu", views=epochs)
        build = time.perf_counter() - start
        teachers["live"] = prepare_teacher(augmented, cache, device="cpu", views=0)
        tasks = {"plain": plain, "bank": augmented, "live": augmented}
        views = {"plain": 0, "bank": epochs, "live": 0}
        seconds = {}
        for arm in ("plain", "bank", "live"):
            jobs = configs(trials, epochs, views[arm])
            start = time.perf_counter()
            for config in jobs:
                run_job(tasks[arm], config, teachers[arm])
            seconds[arm] = (time.perf_counter() - start) / trials
    bank = teachers["bank"].bank
    assert bank is not None
    per_hour = {arm: 3600 / s for arm, s in seconds.items()}
    compute = multiply_adds(plain.teacher(), (1, 28, 28)) / multiply_adds(plain.student(), (1, 28, 28))
    print(
        f"mnist, {TEACHER} teacher ({compute:.1f}x the {STUDENT} student's multiply-adds), "
        f"{trials} trials of {epochs} epochs, one thread"
    )
    for arm in ("plain", "bank", "live"):
        print(f"  {arm:<6} {seconds[arm]:7.2f} s per trial  {per_hour[arm]:8.0f} trials per hour")
    print(f"  view bank: {bank.views} views, {bank.nbytes / 1e6:.2f} MB, built in {build:.1f} s")
    ratios = {
        "bank_cost_vs_plain": seconds["bank"] / seconds["plain"],
        "live_cost_vs_bank": seconds["live"] / seconds["bank"],
    }
    print(
        f"  a banked trial costs {ratios['bank_cost_vs_plain']:.2f}x an unaugmented one (goal <= 1.5) and "
        f"{ratios['live_cost_vs_bank']:.2f}x less than with a live teacher (goal >= 3)"
    )
    ratios_module.write(
        args.json,
        "augmented",
        ratios,
        seconds_per_trial=seconds,
        trials_per_hour=per_hour,
        bank_build_seconds=build,
        bank_bytes=bank.nbytes,
        bank_views=bank.views,
        teacher_to_student_multiply_adds=compute,
    )


if __name__ == "__main__":
    main()
