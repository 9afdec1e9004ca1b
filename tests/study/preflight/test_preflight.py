"""The pre-flight and the study file's paths, without the CLI (the CLI's refusals are in tests/cli)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
import yaml
from torch import nn
from torch.utils.data import TensorDataset

from tempopt.errors import TaskError
from tempopt.study.preflight import preflight
from tempopt.study.spec.host import artifacts_dir, cache_dir, study_path
from tempopt.study.spec.model import StudySpec, load_spec, parse_spec
from tempopt.tasks import Task

SEARCH = {
    "temperature": {"low": 1.0, "high": 4.0},
    "kd_weight": {"low": 0.0, "high": 1.0},
    "lr": {"low": 1.0e-3, "high": 1.0e-1, "log": True},
}
TEACHER = lambda: nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 2))  # noqa: E731
_task_of_the_test: dict[str, Task] = {}


def make_task() -> Task:
    """The task module of these tests: whatever the running test put in ``_task_of_the_test``."""
    return _task_of_the_test["task"]


def _spec(task: Task, **changes) -> StudySpec:
    _task_of_the_test["task"] = task
    data = {"name": "pre", "task": f"{__name__}:make_task", "epochs": 1, "trials": 2, "search": SEARCH}
    return parse_spec({**data, "device": "cpu", **changes})


def _task(**changes) -> Task:
    x, y = torch.randn(12, 5), torch.arange(12) % 2
    fields = dict(train=TensorDataset(x, y), val=TensorDataset(x, y), num_classes=2, teacher=TEACHER, name="pre")
    return Task(**{**fields, "student": lambda: nn.Linear(5, 2), **changes})


class _Pair(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(5, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(x), x  # logits and features, as some models do


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {"student": _Pair},
            "the student of task 'pre' returns a tuple of 2, not a tensor of logits; its element 0 has the logits' "
            "shape (4, 2): return only it from forward, or wrap the model in a module whose forward returns "
            "model(x)[0].",
        ),
        (
            {"teacher": lambda: "a model"},
            "the teacher factory of task 'pre' returned a str, not a torch.nn.Module; return a fresh model.",
        ),
        (
            {"teacher": lambda: nn.Linear(5, 1)},
            "the teacher of task 'pre' outputs logits of shape (4, 1) for 4 training inputs, not (4, 2)",
        ),
        (
            {"augment": lambda x: x[:2]},  # half a batch: the logits would not match the labels
            "the augmentation of task 'pre' turns 4 training inputs into 2 inputs; "
            "return a tensor of one augmented input per input.",
        ),
    ],
    ids=["tuple", "not-a-module", "teacher-outputs", "augmentation-drops-inputs"],
)
def test_models_that_cannot_give_logits_are_refused(change, message):
    with pytest.raises(TaskError) as caught:
        preflight(_spec(_task(**change)))
    assert str(caught.value).startswith(message)


def test_the_preflight_leaves_the_global_random_state_alone():
    spec = _spec(_task())
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    preflight(spec)  # builds two models: their initial weights draw random numbers
    assert torch.equal(torch.rand(3), expected)


def test_a_checkpoint_saved_from_ddp_loads_with_a_warning(tmp_path, caplog):
    saved = TEACHER()
    torch.save(nn.DataParallel(saved).state_dict(), tmp_path / "ddp.pt")
    spec = _spec(_task(), teacher={"checkpoint": "ddp.pt"}, study_dir=str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="tempopt.study.preflight"):
        flight = preflight(spec)
    assert caplog.messages == [
        f"teacher.checkpoint {str(tmp_path / 'ddp.pt')!r} was saved from DataParallel or DistributedDataParallel "
        "(every key starts with 'module.'); it is loaded without that prefix."
    ]
    loaded = flight.model("teacher").state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in saved.state_dict().items())


def test_a_checkpoint_that_does_not_fit_names_the_keys(tmp_path):
    torch.save(nn.Linear(5, 2).state_dict(), tmp_path / "linear.pt")
    with pytest.raises(TaskError) as caught:
        preflight(_spec(_task(), teacher={"checkpoint": str(tmp_path / "linear.pt")}))
    assert str(caught.value) == (
        f"teacher.checkpoint {str(tmp_path / 'linear.pt')!r} does not fit the teacher of task 'pre' (missing keys: "
        "0.weight, 0.bias, 2.weight, 2.bias; unexpected keys: weight, bias); save the state_dict of the same "
        "architecture."
    )


def test_a_task_that_trains_no_teacher_epochs_is_refused_unless_it_has_a_checkpoint(tmp_path):
    with pytest.raises(Exception, match="task 'pre' gives the teacher 0 training epochs"):
        preflight(_spec(_task(teacher_epochs=0)))
    torch.save(TEACHER().state_dict(), tmp_path / "t.pt")
    assert preflight(_spec(_task(teacher_epochs=0), teacher={"checkpoint": str(tmp_path / "t.pt")}))


def test_load_spec_records_the_study_files_folder(tmp_path):
    folder = tmp_path / "studies"
    folder.mkdir()
    (folder / "s.yaml").write_text(
        yaml.safe_dump({"name": "s", "task": "digits", "epochs": 1, "trials": 2, "search": SEARCH})
    )
    assert load_spec(folder / "s.yaml").study_dir == str(folder.resolve())
    assert "study_dir" in load_spec(folder / "s.yaml").to_dict()  # stored with the study


def test_relative_paths_start_at_the_study_files_folder(tmp_path, monkeypatch):
    folder, elsewhere = tmp_path / "studies", tmp_path / "elsewhere"
    folder.mkdir(), elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    spec = _spec(_task(), study_dir=str(folder), cache_dir="cache", artifacts="../arts")
    assert cache_dir(spec) == folder / "cache"
    assert artifacts_dir(spec) == folder / ".." / "arts"
    assert study_path(spec, "/abs/t.pt", "teacher.checkpoint") == Path("/abs/t.pt")
    assert cache_dir(_spec(_task(), study_dir=str(folder))) == elsewhere / ".tempopt-cache"  # the default's place


def test_without_the_study_files_folder_relative_paths_start_at_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    older = _spec(_task(), cache_dir="cache")  # a stored spec of an older tempopt: no study_dir
    elsewhere = _spec(_task(), cache_dir="cache", study_dir="/no/such/host/folder")  # a worker on another host
    assert cache_dir(older) == cache_dir(elsewhere) == tmp_path / "cache"


def test_a_file_only_in_the_working_directory_is_used_from_there_with_a_warning(tmp_path, monkeypatch, caplog):
    folder = tmp_path / "studies"
    folder.mkdir()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "old.pt").write_bytes(b"")
    spec = _spec(_task(), study_dir=str(folder))
    with caplog.at_level(logging.WARNING, logger="tempopt.study.spec.host"):
        assert study_path(spec, "old.pt", "teacher.checkpoint") == tmp_path / "old.pt"
    assert f"teacher.checkpoint 'old.pt' is not in the study file's folder ({folder})" in caplog.text
    (folder / "old.pt").write_bytes(b"")
    assert study_path(spec, "old.pt", "teacher.checkpoint") == folder / "old.pt"  # the study file's wins


def test_a_missing_checkpoint_of_the_task_itself_names_where_it_was_looked_for(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = _spec(_task(teacher_checkpoint="nope.pt"), study_dir=str(tmp_path / "studies"))
    with pytest.raises(TaskError) as caught:
        preflight(spec)
    assert str(caught.value) == (
        f"teacher_checkpoint 'nope.pt' was looked for at {str(tmp_path / 'nope.pt')!r}, which is not a file; give "
        "the path of a saved state_dict (a relative path starts at the working directory)."
    )
