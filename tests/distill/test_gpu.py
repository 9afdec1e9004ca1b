"""The GPU path (skipped without CUDA; ``benchmarks/gpu_check.sh`` runs these on a GPU machine).

On CUDA, members, data and the teacher's cached logits live on the device, training runs under
bf16 autocast when ``mixed_precision`` is on, and no step waits for the GPU: the host
synchronises a fixed number of times per epoch (the epoch's loss and accuracies), never per step.
"""

from __future__ import annotations

import warnings

import pytest
import torch

from tempopt.distill import JobConfig, prepare_teacher, run_job
from tempopt.distill.members import fit_members, member_config
from tempopt.tasks import load_task
from tests.distill.test_members import MEMBERS

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (run benchmarks/gpu_check.sh on a GPU)"),
]

# the same 8 members (T, λ, lr) as the CPU equivalence test


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    task = load_task("digits", {"labelled": 200})
    return task, prepare_teacher(task, tmp_path_factory.mktemp("cache"), device="cuda")


def _base(**overrides) -> JobConfig:
    fields = dict(
        temperature=1.0, kd_weight=0.0, lr=0.01, epochs=6, batch_size=32, seed=3, device="cuda", mixed_precision=False
    )
    fields.update(overrides)
    return JobConfig(**fields)


def test_the_teacher_signal_and_the_results_are_on_the_gpu(digits):
    task, teacher = digits
    assert teacher.train_logits is not None and teacher.train_logits.is_cuda
    assert next(teacher.model.parameters()).is_cuda
    results = fit_members(task, _base(epochs=1), MEMBERS[:2], teacher)
    assert all(r.device.startswith("cuda") for r in results)


def test_each_member_on_the_gpu_reaches_what_it_reaches_alone_there(digits):
    task, teacher = digits
    base = _base()
    one_example = 1 / len(task.val)
    for member, result in zip(MEMBERS, fit_members(task, base, MEMBERS, teacher), strict=True):
        alone = run_job(task, member_config(base, member), teacher if member.kd_weight > 0 else None)
        assert max(abs(a - b) for a, b in zip(result.history, alone.history, strict=True)) <= one_example


def test_bf16_autocast_trains_as_well_as_fp32(digits):
    task, teacher = digits
    fp32 = fit_members(task, _base(epochs=10), MEMBERS, teacher)
    bf16 = fit_members(task, _base(epochs=10, mixed_precision=True), MEMBERS, teacher)
    for a, b in zip(fp32, bf16, strict=True):
        assert b.error is None
        assert abs(a.final_accuracy - b.final_accuracy) <= 0.03  # rounding, not a different model


def _syncs(run) -> int:
    """How many synchronising CUDA calls ``run()`` makes (torch's sync debug mode counts them)."""
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught)


@pytest.mark.parametrize("batched", [False, True])
def test_no_step_waits_for_the_gpu(digits, batched):
    """Twice the steps per epoch (half the batch size), the same number of host syncs."""
    task, teacher = digits

    def train(batch_size: int):
        base = _base(epochs=2, batch_size=batch_size, mixed_precision=True)
        if batched:
            return lambda: fit_members(task, base, MEMBERS[:4], teacher)
        return lambda: run_job(task, member_config(base, MEMBERS[1]), teacher)

    train(16)()  # warm up: first-call allocations and lazy initialisation
    few, many = _syncs(train(32)), _syncs(train(16))
    assert many == few, f"{many} syncs with twice the steps against {few}: a step waits for the GPU"
