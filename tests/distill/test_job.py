"""The distillation job: reproducible, stoppable, loud about NaNs, and the baseline is teacher-free."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn

from tempopt.distill import JobConfig, evaluate, prepare_teacher, run_job
from tempopt.distill.data import Batch, BatchSource
from tempopt.distill.job import TeacherSignal
from tempopt.errors import SpecError, TempoptError, TrainingError


def config(**kw) -> JobConfig:
    fields = dict(temperature=3.0, kd_weight=0.5, lr=3e-2, epochs=3, batch_size=32, device="cpu")
    fields.update(kw)
    return JobConfig(**fields)


@pytest.fixture
def teacher(make_task, tmp_path):
    return prepare_teacher(make_task(), tmp_path, device="cpu")


def _params(model: nn.Module) -> list[Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def _same(a: list[Tensor], b: list[Tensor]) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


class RecordingTeacher(TeacherSignal):
    """Fixed logits; remembers which batches it was asked about."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, Tensor]] = []

    def logits(self, kind: str, batch: Batch, x: Tensor) -> Tensor:
        self.asked.append((kind, batch.index.clone()))
        return torch.linspace(-1, 1, 3).expand(len(x), 3)


class ForbiddenTeacher(TeacherSignal):
    def logits(self, kind: str, batch: Batch, x: Tensor) -> Tensor:
        raise AssertionError("the baseline asked the teacher for logits")


class ForbiddenDataset(torch.utils.data.Dataset):
    def __len__(self) -> int:
        raise AssertionError("the baseline looked at the transfer set")

    def __getitem__(self, i: int):
        raise AssertionError("the baseline read the transfer set")


@pytest.mark.parametrize("kd_weight", [0.0, 0.7])
def test_same_inputs_and_seed_give_the_same_job(make_task, teacher, kd_weight):
    a = run_job(make_task(), config(kd_weight=kd_weight, seed=3), teacher)
    b = run_job(make_task(), config(kd_weight=kd_weight, seed=3), teacher)
    assert a.history == b.history
    assert _same(_params(a.model), _params(b.model))
    c = run_job(make_task(), config(kd_weight=kd_weight, seed=4), teacher)
    assert not _same(_params(a.model), _params(c.model))


def test_the_global_random_state_does_not_matter(make_task, teacher):
    torch.manual_seed(1)
    a = run_job(make_task(), config(), teacher)
    torch.manual_seed(2)
    b = run_job(make_task(), config(), teacher)
    assert _same(_params(a.model), _params(b.model))


def test_the_result_describes_the_job(make_task, teacher):
    result = run_job(make_task(), config(epochs=6), teacher)
    assert result.epochs_run == len(result.history) == 6
    assert result.final_accuracy == result.history[-1]
    assert result.best_accuracy == max(result.history)
    assert all(0.0 <= a <= 1.0 for a in result.history)
    assert result.device == "cpu" and result.seconds > 0 and not result.stopped_early
    assert result.final_accuracy > 0.8  # three well separated blobs: far above chance (1/3)
    xv, yv = make_task().val.tensors
    with torch.no_grad():
        assert result.final_accuracy == (result.model(xv).argmax(1) == yv).sum().item() / len(yv)


def test_on_epoch_gets_one_based_epochs_and_the_accuracies(make_task, teacher):
    calls: list[tuple[int, float]] = []
    result = run_job(make_task(), config(epochs=3), teacher, on_epoch=lambda e, a: calls.append((e, a)) and False)
    assert [e for e, _ in calls] == [1, 2, 3]
    assert [a for _, a in calls] == result.history


def test_returning_true_from_on_epoch_stops_the_job(make_task, teacher):
    calls: list[int] = []

    def stop_after_two(epoch: int, accuracy: float) -> bool:
        calls.append(epoch)
        return epoch == 2

    result = run_job(make_task(), config(epochs=10), teacher, on_epoch=stop_after_two)
    assert calls == [1, 2]
    assert result.stopped_early and result.epochs_run == 2 and len(result.history) == 2


class NaNStudent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(8, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x) * math.nan


@pytest.mark.parametrize(
    "how",
    ["nan-student", "huge-lr"],
)
def test_a_nan_loss_is_a_training_error_naming_the_job(make_task, teacher, how):
    task = make_task(student=NaNStudent) if how == "nan-student" else make_task()
    cfg = config(temperature=2.5, kd_weight=0.25, lr=1e30 if how == "huge-lr" else 0.05, epochs=5)
    with pytest.raises(TrainingError) as info:
        run_job(task, cfg, teacher)
    message = str(info.value)
    assert "T=2.5" in message and "kd_weight=0.25" in message
    assert ("lr=1e+30" if how == "huge-lr" else "lr=0.05") in message


def test_distillation_without_a_teacher_is_refused(make_task):
    with pytest.raises(SpecError, match="kd_weight=0.5.*prepare_teacher"):
        run_job(make_task(), config(kd_weight=0.5), teacher=None)


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("epochs", 0, "epochs=0"),
        ("optimizer", "lbfgs", "lbfgs"),
        ("schedule", "step", "step"),
        ("loss", "nope", "nope"),
        ("device", "tpu:9", "tpu"),
    ],
)
def test_bad_config_values_are_spec_errors(make_task, field, value, words):
    with pytest.raises(TempoptError, match=words):
        run_job(make_task(), config(kd_weight=0.0, **{field: value}))


def test_the_baseline_never_touches_the_teacher_or_the_transfer_set(make_task):
    task = make_task(transfer=ForbiddenDataset())
    result = run_job(task, config(kd_weight=0.0), ForbiddenTeacher())
    assert result.epochs_run == 3


def test_distillation_uses_every_labelled_and_transfer_sample_once_per_epoch(make_task, tiny):
    transfer = tiny.Plain(tiny.blobs(80, 9)[0])  # a non-tensor transfer set: the DataLoader path
    signal = RecordingTeacher()
    run_job(make_task(transfer=transfer), config(kd_weight=0.7, epochs=2), signal)
    assert transfer.reads == 2 * 80
    for kind, n in (("train", 96), ("transfer", 80)):
        indices = torch.cat([i for k, i in signal.asked if k == kind])
        assert len(indices) == 2 * n
        for epoch in indices.split(n):
            assert sorted(epoch.tolist()) == list(range(n))  # a permutation each epoch
    kinds = [k for k, _ in signal.asked]
    assert kinds == ["train", "transfer"] * (2 * 3)  # every step: a labelled and a transfer batch


def test_without_a_transfer_set_only_labelled_batches_are_used(make_task):
    signal = RecordingTeacher()
    run_job(make_task(n_transfer=0), config(kd_weight=0.7, epochs=1), signal)
    assert {k for k, _ in signal.asked} == {"train"}


@pytest.mark.parametrize("kd_weight", [0.0, 0.6])
def test_a_plain_dataset_trains_like_a_tensor_dataset(make_task, tiny, tmp_path, kd_weight):
    """The DataLoader path draws the same order and leaves the global RNG alone."""
    plain = make_task()
    x, y = plain.train.tensors
    plain.train = tiny.Plain(x, y)
    plain.val = tiny.Plain(*plain.val.tensors)
    plain.transfer = tiny.Plain(plain.transfer.tensors[0])
    tensor = make_task()
    t_plain = prepare_teacher(plain, tmp_path, device="cpu") if kd_weight else None
    t_tensor = prepare_teacher(tensor, tmp_path, device="cpu") if kd_weight else None
    if kd_weight:
        assert torch.equal(t_plain.train_logits, t_tensor.train_logits)
        assert torch.equal(t_plain.transfer_logits, t_tensor.transfer_logits)
    a = run_job(plain, config(kd_weight=kd_weight), t_plain)
    b = run_job(tensor, config(kd_weight=kd_weight), t_tensor)
    assert plain.train.reads > 0
    assert a.history == b.history
    assert _same(_params(a.model), _params(b.model))


def test_evaluate_is_top1_accuracy_and_restores_the_mode(tiny):
    x, y = tiny.blobs(50, 5)
    model = tiny.student().train()
    source = BatchSource(torch.utils.data.TensorDataset(x, y), 16, torch.device("cpu"))
    with torch.no_grad():
        want = (model(x).argmax(1) == y).sum().item() / 50
    assert evaluate(model, source) == want
    assert model.training


def test_distillation_makes_the_student_agree_with_the_teacher(make_task, teacher):
    """λ = 1 on the transfer set: the student learns the teacher's answers, with no labels."""
    x = make_task().transfer.tensors[0]
    distilled = run_job(make_task(), config(kd_weight=1.0, temperature=2.0, epochs=8), teacher).model
    baseline = run_job(make_task(), config(kd_weight=0.0, epochs=1, lr=1e-9), teacher).model
    with torch.no_grad():
        target = teacher.model(x).argmax(1)
        agree = (distilled(x).argmax(1) == target).float().mean().item()
        chance = (baseline(x).argmax(1) == target).float().mean().item()
    assert agree > 0.8 and agree > chance + 0.2


def test_compute_seconds_leave_out_the_epoch_callbacks(make_task):
    """What the study's epoch callback spends (its storage calls) is not the job's compute."""
    import time as _time

    from tempopt.distill import JobConfig, run_job

    napped = []

    def on_epoch(epoch, accuracy):
        start = _time.perf_counter()
        _time.sleep(0.02)
        napped.append(_time.perf_counter() - start)
        return False

    result = run_job(
        make_task(), JobConfig(temperature=1.0, kd_weight=0.0, lr=0.01, epochs=3, device="cpu"), on_epoch=on_epoch
    )
    assert result.compute_seconds is not None and 0 < result.compute_seconds < result.seconds
    assert result.seconds - result.compute_seconds >= sum(napped)
