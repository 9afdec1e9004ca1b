"""The budget of a job does not depend on kd_weight: λ → 0 is the student alone.

Measured before this was so: the transfer set gave every λ > 0 job 4× the optimizer steps of a
baseline on digits, and λ = 1e-6 (no teacher signal to speak of) moved the accuracy by 0.1.
"""

from __future__ import annotations

import copy

import pytest
import torch

from tempopt.distill import JobConfig, prepare_teacher, run_job
from tempopt.distill.stack import StackedOptimizer
from tempopt.tasks import load_task

QUICKSTART = {"labelled": 200}  # studies/quickstart.yaml's task


def _config(**kw) -> JobConfig:
    fields = dict(temperature=3.0, kd_weight=0.5, lr=3e-2, epochs=3, batch_size=32, device="cpu")
    fields.update(kw)
    return JobConfig(**fields)


class _Steps:
    """Counts the training loop's optimizer steps while it is active."""

    def __enter__(self):
        self.count = 0
        self._step = StackedOptimizer.step
        steps = self

        def counted(optimizer, *args, **kwargs):
            steps.count += 1
            return steps._step(optimizer, *args, **kwargs)

        StackedOptimizer.step = counted  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc):
        StackedOptimizer.step = self._step  # type: ignore[method-assign]


@pytest.mark.parametrize("kd_weight", [0.0, 1e-6, 0.5, 1.0])
def test_every_kd_weight_gets_the_same_steps_and_the_same_labelled_batches(make_task, teacher_for, kd_weight):
    task = make_task()
    teacher = teacher_for(task)
    seen: list[torch.Tensor] = []
    task.augment = lambda x: seen.append(x) or x  # records every batch a step draws, in order
    with _Steps() as steps:
        run_job(task, _config(kd_weight=kd_weight), teacher if kd_weight else None)
    assert steps.count == 3 * -(-96 // 32)  # epochs × labelled batches, whatever kd_weight is
    labelled = [x for x in seen if len(x) == 32]  # labelled batches: 32; transfer: ceil(80 / 3) = 27
    baseline_task = make_task()
    baseline_seen: list[torch.Tensor] = []
    baseline_task.augment = lambda x: baseline_seen.append(x) or x
    run_job(baseline_task, _config(kd_weight=0.0))
    assert len(labelled) == len(baseline_seen) == steps.count
    assert all(torch.equal(a, b) for a, b in zip(labelled, baseline_seen, strict=True))  # same order


def test_an_epoch_is_one_pass_over_the_labelled_and_the_transfer_set(make_task, teacher_for):
    task = make_task()
    teacher = teacher_for(task)
    seen: list[torch.Tensor] = []
    task.augment = lambda x: seen.append(x) or x
    run_job(task, _config(epochs=1), teacher)
    transfer = torch.cat([x for x in seen[1::2]])
    assert [len(x) for x in seen[1::2]] == [27, 27, 26]
    assert torch.equal(transfer.sort(0).values, task.transfer.tensors[0].sort(0).values)


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory):
    task = load_task("digits", QUICKSTART)
    return task, prepare_teacher(task, tmp_path_factory.mktemp("cache"), device="cpu")


@pytest.mark.parametrize("lr", [0.02, 0.09])
def test_kd_weight_1e_6_trains_the_student_alone_on_digits(quickstart, lr):
    """AdamW, the quickstart's batch size and epochs, seed 0: within 0.005 (2 of 359 images)."""
    task, teacher = quickstart
    kw = dict(temperature=4.0, lr=lr, epochs=30, batch_size=32, seed=0)
    alone = run_job(task, _config(kd_weight=0.0, **kw))
    tiny = run_job(task, _config(kd_weight=1e-6, **kw), teacher)
    assert abs(tiny.final_accuracy - alone.final_accuracy) <= 0.005


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_with_sgd_or_without_a_transfer_set_kd_weight_1e_6_is_exactly_the_student_alone(quickstart, seed):
    """AdamW gives a full-size step to a weight only the transfer batch moves (a unit silent on
    every labelled example of the step), whatever λ; SGD and a labelled-only job have no such
    weight, so λ = 1e-6 trains the very same student."""
    task, teacher = quickstart
    no_transfer = copy.copy(task)
    no_transfer.transfer = None
    for t, optimizer in ((task, "sgd"), (no_transfer, "adamw")):
        kw = dict(temperature=4.0, lr=0.09, epochs=10, batch_size=32, seed=seed, optimizer=optimizer)
        alone = run_job(t, _config(kd_weight=0.0, **kw))
        tiny = run_job(t, _config(kd_weight=1e-6, **kw), teacher)
        assert tiny.history == alone.history


def test_measure_test_scores_the_test_split_example_by_example(quickstart):
    task, teacher = quickstart
    result = run_job(task, _config(kd_weight=0.7, epochs=2), teacher, measure_test=True)
    assert result.test_split == "test" and result.test_correct.dtype == torch.bool
    assert len(result.test_correct) == len(task.test) == 539
    assert result.test_accuracy == pytest.approx(result.test_correct.float().mean().item())
    without = copy.copy(task)
    without.test = None
    other = run_job(without, _config(kd_weight=0.7, epochs=2), teacher, measure_test=True)
    assert other.test_split == "val" and len(other.test_correct) == len(task.val)
    assert other.test_accuracy == pytest.approx(other.final_accuracy)  # the same student, the same val
