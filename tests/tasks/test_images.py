"""Image folders read with Pillow alone; torchvision is optional and says how to get it."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tempopt.distill import JobConfig, run_job
from tempopt.errors import TaskError
from tempopt.tasks import load_task
from tempopt.tasks.models import ConvNet2d, ResNet

COLOURS = {"blue": (30, 40, 200), "red": (210, 30, 40)}  # sorted: blue is class 0, red class 1


@pytest.fixture(autouse=True)
def _no_torchvision(monkeypatch):
    """Every test here runs as if torchvision were not installed."""
    monkeypatch.setitem(sys.modules, "torchvision", None)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", None)


def _write_images(folder: Path, colour: tuple[int, int, int], count: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        noise = rng.integers(-25, 26, size=(8, 8, 3))
        pixels = np.clip(np.array(colour) + noise, 0, 255).astype(np.uint8)
        Image.fromarray(pixels, "RGB").save(folder / f"{i:02d}.png")


@pytest.fixture
def image_root(tmp_path) -> Path:
    """``train/{blue,red}`` with 6 PNGs each, ``val/`` and ``test/{blue,red}`` with 3, ``extra/`` flat, all 8×8."""
    for k, (name, colour) in enumerate(COLOURS.items()):
        _write_images(tmp_path / "train" / name, colour, 6, seed=k)
        _write_images(tmp_path / "val" / name, colour, 3, seed=10 + k)
        _write_images(tmp_path / "test" / name, colour, 3, seed=30 + k)
    _write_images(tmp_path / "extra", COLOURS["blue"], 2, seed=20)
    return tmp_path


def _read(folder: Path) -> torch.Tensor:
    """The PNGs of a folder as ``(N, 3, 8, 8)`` in [0, 1], sorted by file name."""
    arrays = [np.asarray(Image.open(p).convert("RGB"), dtype=np.float32) / 255 for p in sorted(folder.glob("*.png"))]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)


def test_an_image_folder_loads_without_torchvision(image_root):
    task = load_task("image_folder", {"root": str(image_root), "size": 8})
    assert task.name == "image_folder" and task.num_classes == 2
    assert task.meta["classes"] == ["blue", "red"]
    x, y = task.train.tensors
    assert x.shape == (12, 3, 8, 8) and x.dtype == torch.float32
    assert y.tolist() == [0] * 6 + [1] * 6
    xv, yv = task.val.tensors
    assert xv.shape == (6, 3, 8, 8) and yv.tolist() == [0] * 3 + [1] * 3
    xs, ys = task.test.tensors
    assert xs.shape == (6, 3, 8, 8) and ys.tolist() == [0] * 3 + [1] * 3
    assert task.meta["test_from"] == "folder" and task.meta["n_test"] == 6
    assert task.transfer is None
    assert task.teacher()(x).shape == task.student()(x).shape == (12, 2)


def test_images_are_standardised_with_the_training_statistics(image_root):
    task = load_task("image_folder", {"root": str(image_root), "size": 8})
    raw = torch.cat([_read(image_root / "train" / c) for c in COLOURS])  # (12, 3, 8, 8)
    mean = raw.mean(dim=(0, 2, 3), keepdim=True)
    std = raw.std(dim=(0, 2, 3), keepdim=True)
    x = task.train.tensors[0]
    torch.testing.assert_close(x, (raw - mean) / std)
    torch.testing.assert_close(x.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(x.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-5, rtol=0)
    raw_val = torch.cat([_read(image_root / "val" / c) for c in COLOURS])
    torch.testing.assert_close(task.val.tensors[0], (raw_val - mean) / std)  # train's statistics
    raw_test = torch.cat([_read(image_root / "test" / c) for c in COLOURS])
    torch.testing.assert_close(task.test.tensors[0], (raw_test - mean) / std)


def test_the_colour_tells_the_class(image_root):
    task = load_task("image_folder", {"root": str(image_root), "size": 8})
    x, y = task.train.tensors
    redder = x[:, 0].mean(dim=(1, 2)) > x[:, 2].mean(dim=(1, 2))  # standardised, but still ordered
    assert redder.tolist() == (y == 1).tolist()


def test_images_are_resized(image_root):
    task = load_task("image_folder", {"root": str(image_root), "size": 4})
    assert task.train.tensors[0].shape == (12, 3, 4, 4)


def test_a_flat_transfer_folder_becomes_unlabelled_standardised_inputs(image_root):
    task = load_task("image_folder", {"root": str(image_root), "size": 8, "transfer_dir": "extra"})
    (xt,) = task.transfer.tensors
    assert xt.shape == (2, 3, 8, 8)
    raw = torch.cat([_read(image_root / "train" / c) for c in COLOURS])
    mean, std = raw.mean(dim=(0, 2, 3), keepdim=True), raw.std(dim=(0, 2, 3), keepdim=True)
    torch.testing.assert_close(xt, (_read(image_root / "extra") - mean) / std)


def test_a_short_job_learns_the_colours(image_root):
    task = load_task("image_folder", {"root": str(image_root), "size": 8})
    result = run_job(task, JobConfig(temperature=1.0, kd_weight=0.0, lr=1e-2, epochs=15, batch_size=4, device="cpu"))
    assert result.best_accuracy >= 5 / 6  # chance is 1/2 on 6 validation images


def test_a_residual_student_is_chosen_by_name_and_learns_the_colours(image_root):
    task = load_task("image_folder", {"root": str(image_root), "size": 8, "student_arch": "resnet8"})
    assert isinstance(task.student(), ResNet) and isinstance(task.teacher(), ConvNet2d)  # the teacher as before
    assert task.meta["student_arch"] == "resnet8" and "CNN(64) teacher -> resnet8 student" in task.description
    result = run_job(task, JobConfig(temperature=1.0, kd_weight=0.0, lr=1e-2, epochs=15, batch_size=4, device="cpu"))
    assert result.best_accuracy >= 5 / 6


def test_an_unknown_architecture_is_a_task_error_naming_the_argument(image_root):
    with pytest.raises(TaskError, match="teacher_arch 'resnet50' is unknown; use one of resnet8, "):
        load_task("image_folder", {"root": str(image_root), "size": 8, "teacher_arch": "resnet50"})


@pytest.mark.parametrize(
    "layout, words",
    [("missing", "does not exist"), ("no-classes", "no class sub-folders"), ("no-images", "no images")],
)
def test_a_bad_folder_is_a_task_error(tmp_path, layout, words):
    if layout == "no-classes":
        (tmp_path / "train").mkdir()
    elif layout == "no-images":
        (tmp_path / "train" / "cat").mkdir(parents=True)
        (tmp_path / "train" / "cat" / "notes.txt").write_text("not an image")
    with pytest.raises(TaskError, match=words):
        load_task("image_folder", {"root": str(tmp_path), "size": 8})


def test_the_torchvision_task_says_to_install_the_vision_extra_or_use_image_folder(tmp_path):
    with pytest.raises(TaskError) as info:
        load_task("torchvision", {"dataset": "CIFAR10", "root": str(tmp_path)})
    message = str(info.value)
    assert "tempopt[vision]" in message and "image_folder" in message
