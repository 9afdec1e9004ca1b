"""Fixed augmented views and the view bank: the same views for every job of a seed, the teacher's
logits on them computed once per study, and the student alone still the student alone."""

from __future__ import annotations

import copy
import multiprocessing
import sys
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import TensorDataset

from tempopt.distill import JobConfig, prepare_teacher, run_job
from tempopt.distill.data import BatchSource
from tempopt.distill.teacher import bank_key
from tempopt.distill.views import AugmentedSource, view_params
from tempopt.errors import SpecError
from tempopt.tasks import Task
from tempopt.tasks.augmentation import Crop, Flip, from_settings
from tempopt.tasks.models import ConvNet2d

VIEWS = 4


def digit_images(transfer: bool = True, augment=None) -> Task:
    """sklearn's digits as 1×8×8 images: 150 labelled, 200 val, 250 transfer; a conv teacher."""
    data = load_digits()
    x = torch.tensor(data.images, dtype=torch.float32).unsqueeze(1) / 16.0  # (N, 1, 8, 8)
    y = torch.tensor(data.target)
    return Task(
        train=TensorDataset(x[:150], y[:150]),
        val=TensorDataset(x[150:350], y[150:350]),
        transfer=TensorDataset(x[350:600]) if transfer else None,
        teacher_train=TensorDataset(x[:600], y[:600]),
        num_classes=10,
        teacher=lambda: ConvNet2d(1, 10, width=8, depth=2),
        student=lambda: nn.Sequential(nn.Flatten(), nn.Linear(64, 10)),
        name="digit-images",
        teacher_epochs=4,
        augment=augment if augment is not None else from_settings(crop=1, flip=True),
    )


def config(**kw) -> JobConfig:
    base = dict(temperature=3.0, kd_weight=0.5, lr=0.05, epochs=3, batch_size=32, seed=0, device="cpu")
    base.update(views=VIEWS, view_seed=0, mixed_precision=False)
    base.update(kw)
    return JobConfig(**base)


@pytest.fixture(scope="module")
def banked(tmp_path_factory):
    """The digit-images task and its teacher with a bank of 4 views."""
    task = digit_images()
    cache = tmp_path_factory.mktemp("cache")
    return task, prepare_teacher(task, cache, device="cpu", views=VIEWS, mixed_precision=False), cache


def _views_seen(job_seed: int, epochs: int, views: int) -> dict[int, list[int]]:
    source = BatchSource(TensorDataset(torch.zeros(50, 1, 4, 4), torch.zeros(50)), 16, torch.device("cpu"))
    augmented = AugmentedSource(source, Crop(1), views, 0, job_seed, "train")
    order = torch.Generator().manual_seed(job_seed)
    seen: dict[int, list[int]] = defaultdict(list)
    for _ in range(epochs):
        for batch in augmented.batches(order):
            for i, v in zip(batch.index.tolist(), batch.view.tolist(), strict=True):
                seen[i].append(v)
    return seen


def test_a_job_with_as_many_views_as_epochs_never_repeats_a_view_of_an_example():
    seen = _views_seen(job_seed=3, epochs=VIEWS, views=VIEWS)
    assert len(seen) == 50 and all(sorted(v) == list(range(VIEWS)) for v in seen.values())
    assert _views_seen(3, VIEWS, VIEWS) == seen  # the same seed: the same views
    assert _views_seen(4, VIEWS, VIEWS) != seen  # another seed starts elsewhere
    longer = _views_seen(3, 2 * VIEWS, VIEWS)  # more epochs than views: each view twice
    assert all(sorted(v) == sorted(list(range(VIEWS)) * 2) for v in longer.values())


def test_a_views_params_do_not_depend_on_how_many_views_there_are():
    few = view_params(Crop(2), 30, 2, seed=5, split="train")
    more = view_params(Crop(2), 30, 6, seed=5, split="train")
    assert torch.equal(few, more[:2]) and not torch.equal(more[0], more[1])
    assert not torch.equal(view_params(Crop(2), 30, 2, 5, "transfer"), few)


class _Recording(nn.Module):
    """A student that records the inputs it trains on."""

    def __init__(self, inputs: list) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
        self.inputs = inputs

    def forward(self, x):
        if self.training:
            self.inputs.append(x.detach().clone())
        return self.net(x)


def test_the_baseline_trains_on_exactly_the_views_the_distilled_trials_see(banked):
    task, teacher, _ = banked
    task = copy.copy(task)
    task.transfer = None  # one student forward per step: the labelled batch
    alone: list = []
    distilled: list = []
    run_job(replace(task, student=lambda: _Recording(alone)), config(kd_weight=0.0))
    run_job(replace(task, student=lambda: _Recording(distilled)), config(kd_weight=0.7), teacher)
    assert len(alone) == len(distilled) == 3 * 5
    assert all(torch.equal(a, d) for a, d in zip(alone, distilled, strict=True))


def test_the_bank_holds_the_teachers_logits_on_each_view_in_float16(banked):
    task, teacher, _ = banked
    bank = teacher.bank
    assert bank is not None and bank.views == VIEWS and bank.source == "built"
    x = task.train.tensors[0]
    params = view_params(task.augment, len(x), VIEWS, 0, "train")
    for view in range(VIEWS):
        with torch.no_grad():
            live = teacher.model(task.augment.apply(x, params[view])).half()
        assert torch.equal(bank.tables["train"][view], live)
    assert bank.tables["transfer"].shape == (VIEWS, 250, 10)
    assert bank.nbytes == VIEWS * (150 + 250) * 10 * 2


def test_a_banked_job_trains_the_student_a_live_teacher_on_the_same_views_trains(banked):
    """The same views, the same batches: only the float16 rounding of the stored logits differs."""
    task, teacher, _ = banked
    live = copy.copy(teacher)
    live.bank = None  # the teacher runs on every augmented batch
    kw = dict(kd_weight=0.9, epochs=4)
    a = run_job(task, config(**kw), teacher)
    b = run_job(task, config(**kw), live)
    assert a.history == pytest.approx(b.history, abs=0.011)  # at most 2 of 200 val images
    for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.allclose(p, q, atol=2e-3)


def test_kd_weight_1e_6_on_the_bank_trains_the_student_alone_on_the_same_views(banked):
    task, teacher, _ = banked
    task = copy.copy(task)
    task.transfer = None
    for seed in (0, 1):
        alone = run_job(task, config(kd_weight=0.0, seed=seed, optimizer="sgd"))
        tiny = run_job(task, config(kd_weight=1e-6, seed=seed, optimizer="sgd"), teacher)
        assert tiny.history == alone.history


def test_a_job_whose_views_are_not_the_banks_is_refused(banked):
    task, teacher, _ = banked
    with pytest.raises(SpecError, match="view bank holds 4 views of seed 0, the job trains on 3"):
        run_job(task, config(views=3), teacher)


def test_a_bank_is_read_from_the_cache_and_a_changed_augmentation_builds_another(banked):
    task, _, cache = banked
    again = prepare_teacher(task, cache, device="cpu", views=VIEWS, mixed_precision=False)
    assert again.bank.source == "cache" and again.source == "cache"
    cropped_more = digit_images(augment=from_settings(crop=2, flip=True))
    other = prepare_teacher(cropped_more, cache, device="cpu", views=VIEWS, mixed_precision=False)
    assert other.bank.key != again.bank.key and other.bank.source == "built"
    assert len(list(cache.glob("views-*.pt"))) == 2
    assert prepare_teacher(task, cache, device="cpu", views=0).bank is None  # teacher.views: 0


def test_an_edited_augmentation_class_under_the_same_name_has_another_bank_key(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    keys = []
    for body in ("return x", "return -x"):
        (tmp_path / "edited_augment.py").write_text(
            "import torch\nfrom tempopt import Augmentation\n\n"
            "class Mine(Augmentation):\n"
            "    def sample(self, n, generator):\n        return torch.rand(n, 1, generator=generator)\n\n"
            f"    def apply(self, x, params):\n        {body}\n"
        )
        sys.modules.pop("edited_augment", None)
        import edited_augment

        keys.append(bank_key("teacher", edited_augment.Mine(), VIEWS, 0))
    sys.modules.pop("edited_augment", None)
    assert keys[0] != keys[1]
    assert bank_key("teacher", Flip(), VIEWS, 0) != bank_key("teacher", Flip(), VIEWS + 1, 0)


def _bank_source(cache: str) -> str:
    torch.set_num_threads(1)
    teacher = prepare_teacher(digit_images(), Path(cache), device="cpu", views=VIEWS, mixed_precision=False)
    return f"{teacher.bank.source}:{teacher.bank.key}"


@pytest.mark.timeout(180)
def test_two_workers_starting_together_build_the_bank_once(tmp_path):
    prepare_teacher(digit_images(), tmp_path, device="cpu", views=0, mixed_precision=False)  # the teacher alone
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        results = list(pool.map(_bank_source, [str(tmp_path)] * 2))
    sources = sorted(r.split(":")[0] for r in results)
    assert sources == ["built", "cache"] and len({r.split(":")[1] for r in results}) == 1
