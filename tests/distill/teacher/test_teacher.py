"""The teacher: frozen, trained or loaded once, its logits cached on disk and shared."""

from __future__ import annotations

import functools
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

import tempopt.distill.teacher._key as teacher_key
import tempopt.distill.teacher._teacher as teacher_module
from tempopt.distill import JobConfig, cache_key, prepare_teacher, run_job
from tempopt.errors import TaskError

KD = JobConfig(temperature=3.0, kd_weight=0.8, lr=1e-2, epochs=2, batch_size=32, device="cpu")


@pytest.fixture
def fits(monkeypatch) -> list[str]:
    """Counts the teacher trainings: every call of ``fit`` from ``teacher.py`` is one."""
    calls: list[str] = []
    real_fit = teacher_module.fit

    def counting_fit(model, task, config, teacher, on_epoch=None, **kwargs):
        calls.append(task.name)
        return real_fit(model, task, config, teacher, on_epoch, **kwargs)

    monkeypatch.setattr(teacher_module, "fit", counting_fit)
    return calls


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_the_teacher_is_frozen_and_in_eval_mode(make_task, tmp_path):
    teacher = prepare_teacher(make_task(), tmp_path, device="cpu")
    assert teacher.model.training is False
    assert all(not m.training for m in teacher.model.modules())
    assert all(not p.requires_grad for p in teacher.model.parameters())
    x = make_task().train.tensors[0]
    with torch.no_grad():
        torch.testing.assert_close(teacher.model(x), teacher.train_logits)  # no dropout at work


@pytest.mark.parametrize("augment", [False, True], ids=["cached-logits", "teacher-runs-each-batch"])
def test_a_job_leaves_the_teacher_untouched(make_task, tmp_path, augment):
    """Seed bug 4: the teacher is never trained, never in train mode (its batch norm stats too)."""
    task = make_task(augment=(lambda x: x + 0.1 * torch.randn_like(x)) if augment else None)
    teacher = prepare_teacher(task, tmp_path, device="cpu")
    before = _state(teacher.model)
    result = run_job(task, KD, teacher)
    assert _same_state(before, _state(teacher.model))  # parameters and running statistics
    assert teacher.model.training is False
    assert all(not p.requires_grad and p.grad is None for p in teacher.model.parameters())
    assert not any(p is q for p in teacher.model.parameters() for q in result.model.parameters())


def test_cache_miss_then_hit(make_task, tmp_path, fits):
    first = prepare_teacher(make_task(), tmp_path, device="cpu")
    second = prepare_teacher(make_task(), tmp_path, device="cpu")
    assert (first.source, second.source) == ("trained", "cache")
    assert fits == ["tiny"]  # trained once; the hit only reads the file
    assert first.key == second.key == cache_key(make_task())
    assert first.accuracy == second.accuracy
    assert torch.equal(first.train_logits, second.train_logits)
    assert torch.equal(first.transfer_logits, second.transfer_logits)
    assert first.train_logits.shape == (96, 3) and first.transfer_logits.shape == (80, 3)
    assert _same_state(_state(first.model), _state(second.model))
    assert len(list(tmp_path.glob("teacher-tiny-*.pt"))) == 1


def test_a_task_name_that_is_no_file_name_is_cached_safely(make_task, tmp_path):
    cache = tmp_path / "cache"
    first = prepare_teacher(make_task(name="../up/and away"), cache, device="cpu")
    assert prepare_teacher(make_task(name="../up/and away"), cache, device="cpu").source == "cache"
    assert [p.parent for p in tmp_path.rglob("*.pt")] == [cache]
    assert first.source == "trained"


def test_the_key_is_stable_and_does_not_depend_on_the_global_random_state(make_task):
    torch.manual_seed(1)
    a = cache_key(make_task())
    torch.manual_seed(2)
    assert cache_key(make_task()) == a


def test_teacher_training_is_reproducible_whatever_the_global_random_state(make_task, tmp_path):
    """A rebuilt cache (another machine, a deleted file) must give the same teacher."""
    torch.manual_seed(1)
    a = prepare_teacher(make_task(), tmp_path / "a", device="cpu")
    torch.manual_seed(2)
    b = prepare_teacher(make_task(), tmp_path / "b", device="cpu")
    assert (a.source, b.source) == ("trained", "trained")
    assert torch.equal(a.train_logits, b.train_logits)


def _changed_data(make_task):
    task = make_task()
    task.train.tensors[0][0, 0] += 1e-3  # one number of one sample
    return task


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(_changed_data, id="train-data"),
        pytest.param(lambda mk: mk(n_val=61), id="val-data"),
        pytest.param(lambda mk: mk(n_transfer=81), id="transfer-data"),
        pytest.param(lambda mk: mk(n_transfer=0), id="no-transfer"),
        pytest.param(lambda mk: mk(teacher_hidden=33), id="architecture"),
        pytest.param(lambda mk: mk(teacher_epochs=21), id="teacher-epochs"),
        pytest.param(lambda mk: mk(teacher_lr=2e-2), id="teacher-lr"),
    ],
)
def test_a_changed_recipe_changes_the_key_and_retrains(make_task, tmp_path, fits, change):
    base = prepare_teacher(make_task(), tmp_path, device="cpu")
    changed = prepare_teacher(change(make_task), tmp_path, device="cpu")
    assert changed.key != base.key
    assert changed.source == "trained"
    assert len(fits) == 2
    assert prepare_teacher(make_task(), tmp_path, device="cpu").source == "cache"  # both kept


def test_the_training_seed_is_part_of_the_key(make_task, tmp_path, fits):
    a = prepare_teacher(make_task(), tmp_path, device="cpu", seed=0)
    b = prepare_teacher(make_task(), tmp_path, device="cpu", seed=1)
    assert a.key != b.key and b.source == "trained" and len(fits) == 2


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "foreign"])
def test_a_damaged_cache_file_is_rebuilt(make_task, tmp_path, fits, damage):
    first = prepare_teacher(make_task(), tmp_path, device="cpu")
    (path,) = tmp_path.glob("teacher-tiny-*.pt")
    data = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"not a torch file" * 10)
    elif damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # a readable file whose key is not this teacher's
        torch.save({"key": "someone else", "state_dict": {}}, path)
    rebuilt = prepare_teacher(make_task(), tmp_path, device="cpu")
    assert rebuilt.source == "trained" and len(fits) == 2
    assert torch.equal(rebuilt.train_logits, first.train_logits)
    assert prepare_teacher(make_task(), tmp_path, device="cpu").source == "cache"


@pytest.fixture
def save_teacher(tiny):
    """``save_teacher(path, seed, hidden)``: a random teacher saved as a state_dict."""

    def save(path: Path, seed: int, hidden: int = 32) -> nn.Module:
        torch.manual_seed(seed)
        model = tiny.teacher(hidden).eval()
        torch.save(model.state_dict(), path)
        return model

    return save


def test_a_checkpoint_is_loaded_instead_of_training(make_task, tmp_path, fits, save_teacher):
    ckpt = tmp_path / "teacher.pt"
    saved = save_teacher(ckpt, seed=7)
    task = make_task(teacher_checkpoint=ckpt)
    teacher = prepare_teacher(task, tmp_path / "cache", device="cpu")
    assert teacher.source == "checkpoint" and fits == []
    assert _same_state(_state(saved), _state(teacher.model))
    xv, yv = task.val.tensors
    with torch.no_grad():
        assert teacher.accuracy == (saved(xv).argmax(1) == yv).sum().item() / len(yv)
        torch.testing.assert_close(teacher.train_logits, saved(task.train.tensors[0]))
    assert prepare_teacher(task, tmp_path / "cache", device="cpu").source == "cache"


def test_a_checkpoint_wrapped_in_a_dict_is_accepted(make_task, tmp_path, save_teacher):
    ckpt = tmp_path / "teacher.pt"
    saved = save_teacher(ckpt, seed=7)
    torch.save({"state_dict": saved.state_dict(), "epoch": 3}, ckpt)
    teacher = prepare_teacher(make_task(teacher_checkpoint=str(ckpt)), tmp_path, device="cpu")
    assert _same_state(_state(saved), _state(teacher.model))


def test_changing_the_checkpoint_changes_the_key(make_task, tmp_path, save_teacher):
    ckpt = tmp_path / "teacher.pt"
    save_teacher(ckpt, seed=7)
    a = prepare_teacher(make_task(teacher_checkpoint=ckpt), tmp_path / "cache", device="cpu")
    save_teacher(ckpt, seed=8)  # same path, other weights
    b = prepare_teacher(make_task(teacher_checkpoint=ckpt), tmp_path / "cache", device="cpu")
    assert a.key != b.key and b.source == "checkpoint"
    assert not torch.equal(a.train_logits, b.train_logits)


class _Pickled:
    """Not a tensor: ``torch.load(weights_only=True)`` must refuse to unpickle it."""


def test_a_checkpoint_is_loaded_with_weights_only(make_task, tmp_path, save_teacher):
    ckpt = tmp_path / "teacher.pt"
    saved = save_teacher(ckpt, seed=7)
    torch.save({"state_dict": saved.state_dict(), "extra": _Pickled()}, ckpt)
    with pytest.raises(TaskError, match="weights_only"):
        prepare_teacher(make_task(teacher_checkpoint=ckpt), tmp_path, device="cpu")


def test_a_missing_checkpoint_is_a_task_error(make_task, tmp_path):
    missing = tmp_path / "nope.pt"
    with pytest.raises(TaskError, match="nope.pt.*does not exist"):
        prepare_teacher(make_task(teacher_checkpoint=missing), tmp_path, device="cpu")


def test_a_checkpoint_of_another_architecture_is_a_task_error(make_task, tmp_path, save_teacher):
    ckpt = tmp_path / "teacher.pt"
    save_teacher(ckpt, seed=7, hidden=16)
    with pytest.raises(TaskError, match="does not fit the teacher"):
        prepare_teacher(make_task(teacher_checkpoint=ckpt), tmp_path, device="cpu")


def test_augmentation_disables_the_logit_cache_and_the_teacher_sees_the_students_batch(make_task, tiny, tmp_path):
    augmented: list[torch.Tensor] = []
    seen_by_teacher: list[torch.Tensor] = []
    seen_by_student: list[torch.Tensor] = []

    def augment(x: torch.Tensor) -> torch.Tensor:
        out = x + 0.1 * torch.randn_like(x)
        augmented.append(out)
        return out

    class Recording(nn.Module):
        def __init__(self, inner: nn.Module, seen: list[torch.Tensor]) -> None:
            super().__init__()
            self.inner, self.seen = inner, seen

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.seen.append(x)
            return self.inner(x)

    task = make_task(
        augment=augment,
        teacher=lambda: Recording(tiny.teacher(), seen_by_teacher),
        student=lambda: Recording(tiny.student(), seen_by_student),
    )
    teacher = prepare_teacher(task, tmp_path, device="cpu")
    assert teacher.train_logits is None and teacher.transfer_logits is None
    for seen in (augmented, seen_by_teacher, seen_by_student):
        seen.clear()  # forget the teacher's own training
    run_job(task, KD, teacher)
    steps = KD.epochs * -(-96 // 32)  # each step: a labelled batch and a transfer batch
    n_batches = 2 * steps
    assert len(augmented) == n_batches
    # the teacher ran on exactly the augmented batches, in order, the very same tensors
    assert len(seen_by_teacher) == n_batches
    assert all(t is a for t, a in zip(seen_by_teacher, augmented, strict=True))
    # and so did the student (its other calls are the validation passes)
    trained_on = [t for t in seen_by_student if any(t is a for a in augmented)]
    assert all(t is a for t, a in zip(trained_on, augmented, strict=True)) and len(trained_on) == n_batches


def _jitter(x: torch.Tensor) -> torch.Tensor:
    return x + 0.1 * torch.randn_like(x)


def _flip(x: torch.Tensor) -> torch.Tensor:
    return -x


def test_a_teacher_trained_with_augmentation_has_its_own_key(make_task, tmp_path, fits):
    """``fit`` augments the teacher's batches too, so augmentation is part of its recipe."""
    keys = {cache_key(make_task(augment=a)) for a in (None, _jitter, _flip)}
    assert len(keys) == 3
    assert cache_key(make_task(augment=_jitter)) == cache_key(make_task(augment=_jitter))
    prepare_teacher(make_task(), tmp_path, device="cpu")
    assert prepare_teacher(make_task(augment=_jitter), tmp_path, device="cpu").source == "trained"


def test_an_augmentation_edited_under_the_same_name_gets_a_new_key(make_task, tmp_path, monkeypatch, fits):
    """A module edited between runs: the same function name, another body."""
    import importlib

    monkeypatch.syspath_prepend(str(tmp_path))
    keys = []
    for body in ("x + 0.1 * torch.randn_like(x)", "x.flip(1)", "x + 0.1 * torch.randn_like(x)"):
        (tmp_path / "edited_augment.py").write_text(f"import torch\n\n\ndef augment(x):\n    return {body}\n")
        sys.modules.pop("edited_augment", None)
        module = importlib.import_module("edited_augment")
        keys.append(cache_key(make_task(augment=module.augment)))
    sys.modules.pop("edited_augment", None)
    assert keys[0] != keys[1] and keys[0] == keys[2]  # the body counts, and only the body


def _scaled_noise(scale: float):
    return lambda x: x + scale * torch.randn_like(x)


class _Noise:
    def __init__(self, scale: float) -> None:
        self.scale = scale

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.scale * torch.randn_like(x)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(_scaled_noise, id="captured-value"),
        pytest.param(_Noise, id="callable-object"),
        pytest.param(lambda scale: functools.partial(_noise, scale=scale), id="partial"),
    ],
)
def test_the_values_an_augmentation_carries_are_part_of_the_key(make_task, make):
    """The same code with another value from the task's arguments is another augmentation."""
    assert cache_key(make_task(augment=make(0.1))) == cache_key(make_task(augment=make(0.1)))
    assert cache_key(make_task(augment=make(0.1))) != cache_key(make_task(augment=make(0.5)))


def _noise(x: torch.Tensor, scale: float) -> torch.Tensor:
    return x + scale * torch.randn_like(x)


def test_a_teachers_key_without_augmentation_is_what_it_was(make_task):
    """Caches made before the augmentation's source counted stay valid for tasks without one."""
    import hashlib
    import json

    from tempopt.distill.data import fingerprint

    task = make_task()
    recipe = {
        "format": teacher_key.CACHE_FORMAT,
        "task": task.name,
        **{k: fingerprint(getattr(task, k)) for k in ("train", "val", "transfer", "test", "teacher_train")},
        "architecture": repr(task.teacher()),
        "code": teacher_key.teacher_code(task),
        "num_classes": task.num_classes,
        "training": {"epochs": task.teacher_epochs, "lr": task.teacher_lr, "seed": 0, "augment": None},
    }
    assert cache_key(task) == hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


def test_logits_cached_without_augmentation_are_not_used_with_it(make_task, tmp_path, save_teacher):
    ckpt = tmp_path / "teacher.pt"
    save_teacher(ckpt, seed=7)
    plain = prepare_teacher(make_task(teacher_checkpoint=ckpt), tmp_path, device="cpu")
    assert plain.train_logits is not None
    augmented = prepare_teacher(make_task(teacher_checkpoint=ckpt, augment=_jitter), tmp_path, device="cpu")
    assert augmented.source == "cache"  # a checkpoint does not depend on augmentation ...
    assert augmented.train_logits is None and augmented.transfer_logits is None  # ... its logits do


RACER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import torch
    from torch import nn
    from torch.utils.data import TensorDataset
    from tempopt.distill import prepare_teacher
    from tempopt.tasks import Task

    torch.set_num_threads(1)
    cache, me, other, out = sys.argv[1:]
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(2000, 8, generator=g), torch.randint(0, 3, (2000,), generator=g)
    task = Task(
        train=TensorDataset(x[:1500], y[:1500]), val=TensorDataset(x[1500:], y[1500:]),
        num_classes=3, name="race", teacher_epochs=15,
        teacher=lambda: nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 3)),
        student=lambda: nn.Linear(8, 3),
    )
    Path(me).touch()  # a barrier: both processes are ready before either looks at the cache
    deadline = time.monotonic() + 60
    while not Path(other).exists() and time.monotonic() < deadline:
        time.sleep(0.001)
    teacher = prepare_teacher(task, cache, device="cpu")
    torch.save({"source": teacher.source, "logits": teacher.train_logits}, out)
    """
)


@pytest.mark.integration
def test_two_processes_racing_for_the_cache_train_the_teacher_once(tmp_path):
    script = tmp_path / "racer.py"
    script.write_text(RACER)
    cache = tmp_path / "cache"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(script),
                str(cache),
                str(tmp_path / f"ready{i}"),
                str(tmp_path / f"ready{1 - i}"),
                str(tmp_path / f"out{i}.pt"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for i in (0, 1)
    ]
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0, out.decode()
    results = [torch.load(tmp_path / f"out{i}.pt", weights_only=True) for i in (0, 1)]
    assert sorted(r["source"] for r in results) == ["cache", "trained"]
    assert torch.equal(results[0]["logits"], results[1]["logits"])
    assert len(list(cache.glob("teacher-race-*.pt"))) == 1
    assert not list(cache.glob("*.tmp"))  # the atomic write left nothing behind


class _Doubling(nn.Module):
    """A teacher whose forward doubles an inner MLP's logits."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * self.inner(x)


class _Negating(nn.Module):  # another forward
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -self.inner(x)


def test_the_teachers_code_is_part_of_the_key(make_task, tiny, tmp_path, monkeypatch):
    """A module edited between runs: the same class name and repr, another forward."""
    import importlib
    import sys

    from tempopt.distill.teacher import cache_key

    monkeypatch.syspath_prepend(str(tmp_path))
    source = (
        "from torch import nn\n\n\nclass Head(nn.Module):\n"
        "    def __init__(self, inner):\n        super().__init__()\n        self.inner = inner\n\n"
        "    def forward(self, x):\n        return {} * self.inner(x)\n"
    )
    keys, reprs = [], []
    for factor in ("2", "-1"):
        (tmp_path / "edited_teacher.py").write_text(source.format(factor))
        sys.modules.pop("edited_teacher", None)
        module = importlib.import_module("edited_teacher")
        task = make_task(teacher=lambda m=module: m.Head(tiny.teacher()))
        keys.append(cache_key(task))
        reprs.append(repr(task.teacher()))
    sys.modules.pop("edited_teacher", None)
    assert reprs[0] == reprs[1] and keys[0] != keys[1]


def test_a_cached_teacher_that_no_longer_scores_its_accuracy_is_retrained(make_task, tiny, tmp_path, fits, monkeypatch):
    """Code changed behind an unchanged key (here: the key is pinned) gets its own teacher."""
    first = prepare_teacher(make_task(teacher=lambda: _Doubling(tiny.teacher())), tmp_path, device="cpu")
    assert fits == ["tiny"]
    monkeypatch.setattr(teacher_key, "teacher_code", lambda task: "pinned")
    pinned = prepare_teacher(make_task(teacher=lambda: _Doubling(tiny.teacher())), tmp_path, device="cpu")
    assert fits == ["tiny"] * 2 and pinned.source == "trained"  # the pinned key is new: trained once
    again = prepare_teacher(make_task(teacher=lambda: _Doubling(tiny.teacher())), tmp_path, device="cpu")
    assert again.source == "cache" and fits == ["tiny"] * 2  # same code: trusted
    negated = prepare_teacher(make_task(teacher=lambda: _Negating(tiny.teacher())), tmp_path, device="cpu")
    assert negated.source == "trained" and fits == ["tiny"] * 3  # same key, other forward: not trusted
    assert negated.accuracy > 0.5 and first.accuracy > 0.5
