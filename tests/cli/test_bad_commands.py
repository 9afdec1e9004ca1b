"""Bad input beyond the study file: one sentence, a non-zero exit code, nothing half-written."""

from __future__ import annotations

import pytest
import torch
import yaml

from tests.cli.conftest import write_spec


def _url(tmp_path):
    return f"sqlite:///{tmp_path / 'studies.db'}"


def _one_error(result, code: int, message: str) -> None:
    assert result.exit_code == code, result.output
    assert message in " ".join(result.output.split()), result.output
    assert result.output.count("error:") == 1 and "Traceback" not in result.output


WRONG_STUDENT = """
import torch
from torch import nn
from torch.utils.data import TensorDataset
from tempopt import Task


def make_task():
    x, y = torch.randn(40, 5), torch.arange(40) % 2
    return Task(
        train=TensorDataset(x, y), val=TensorDataset(x, y), num_classes=2, name="two-classes",
        teacher=lambda: nn.Linear(5, 2), student=lambda: nn.Linear(5, 3),  # 3 logits for 2 classes
    )
"""


@pytest.fixture
def task_modules(tmp_path, monkeypatch):
    (tmp_path / "raising_factory.py").write_text("def make_task():\n    raise RuntimeError('no data here')\n")
    (tmp_path / "raising_import.py").write_text("raise ImportError('a missing dependency')\n")
    (tmp_path / "broken_module.py").write_text("scale = undefined_name\n")
    (tmp_path / "wrong_student.py").write_text(WRONG_STUDENT)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    torch.save({"weights": torch.zeros(2), "code": print}, tmp_path / "code.pt")  # not weights_only-loadable
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # cuda:3 is absent on every host


RUN_CASES = [
    (
        "factory raises",
        {"task": "raising_factory:make_task", "task_args": {}},
        "task 'raising_factory:make_task' failed to build (RuntimeError: no data here)",
    ),
    (
        "module raises on import",
        {"task": "raising_import:make_task", "task_args": {}},
        "module 'raising_import' cannot be imported (a missing dependency)",
    ),
    (
        "module raises something else on import",
        {"task": "broken_module:make_task", "task_args": {}},
        "module 'broken_module' raised NameError: name 'undefined_name' is not defined while it was imported; "
        "fix the module.",
    ),
    (
        "a task arg of the wrong type",
        {"task_args": {"labelled": "lots"}},
        "task 'digits' failed to build with task_args {'labelled': 'lots'} (TypeError",
    ),
    ("cache_dir is a file", {"cache_dir": "a-file"}, "cache_dir 'TMP/a-file' is a file, not a folder"),
    # the pre-flight: checked before the storage is opened
    (
        "a student with 3 logits for 2 classes",
        {"task": "wrong_student:make_task", "task_args": {}},
        "the student of task 'two-classes' outputs logits of shape (4, 3) for 4 training inputs, not (4, 2) "
        "(num_classes=2); make it output one logit per class.",
    ),
    (
        "device cuda:3 without CUDA",
        {"device": "cuda:3"},
        "device 'cuda:3' was asked for but CUDA is not available; use auto or cpu.",
    ),
    (
        "a missing checkpoint",
        {"teacher": {"checkpoint": "absent.pt"}},
        "teacher.checkpoint 'absent.pt' was looked for at 'TMP/absent.pt', which is not a file; give the path of a "
        "saved state_dict (a relative path starts at the study file's folder).",
    ),
    (
        "a checkpoint holding code",
        {"teacher": {"checkpoint": "code.pt"}},
        "teacher.checkpoint 'TMP/code.pt' cannot be loaded with weights_only=True (it holds code, print, not only "
        "tensors); save only the weights, with torch.save(model.state_dict(), path).",
    ),
]


@pytest.mark.parametrize("case, overrides, message", RUN_CASES, ids=[c[0] for c in RUN_CASES])
def test_run_refuses_with_one_sentence_and_writes_no_storage(tmp_path, cli, task_modules, case, overrides, message):
    (tmp_path / "a-file").write_text("")
    spec = write_spec(tmp_path, **overrides)
    _one_error(cli("run", spec, "--storage", _url(tmp_path)), 2, message.replace("TMP", str(tmp_path)))
    assert not (tmp_path / "studies.db").exists()


COMMANDS = [("run",), ("launch", "--workers", "1"), ("submit",)]


@pytest.mark.parametrize("command", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_every_command_that_opens_a_study_for_work_runs_the_preflight_first(tmp_path, cli, task_modules, command):
    spec = write_spec(tmp_path, task="wrong_student:make_task", task_args={})
    _one_error(cli(*command, spec, "--storage", _url(tmp_path)), 2, "the student of task 'two-classes' outputs")
    assert not (tmp_path / "studies.db").exists() and not (tmp_path / ".tempopt-logs").exists()


def test_trials_over_a_million_on_the_command_line_is_refused_before_the_storage(tmp_path, cli):
    result = cli("run", write_spec(tmp_path), "--trials", str(10**26), "--storage", _url(tmp_path))
    assert result.exit_code == 2 and "Invalid value for '--trials'" in result.output
    assert "less than or equal to 1000000" in " ".join(result.output.split())
    assert not (tmp_path / "studies.db").exists()


def test_submit_leaves_the_device_to_the_workers_hosts_but_refuses_a_name_that_is_no_device(tmp_path, cli):
    url = _url(tmp_path)
    with_cuda = write_spec(tmp_path, device="cuda:3")
    assert cli("submit", with_cuda, "--storage", url).exit_code == 0  # the workers' hosts may have it
    (tmp_path / "studies.db").unlink()
    banana = write_spec(tmp_path, "banana.yaml", device="banana")
    _one_error(cli("submit", banana, "--storage", url), 2, "device 'banana' is not a torch device")
    assert not (tmp_path / "studies.db").exists()


def test_an_exception_in_the_task_module_shows_the_users_own_frames(tmp_path, cli, task_modules):
    (tmp_path / "deep_factory.py").write_text(
        "import torch\n\n\ndef _load(n):\n    return torch.zeros(n).view(3, -1)  # 4 does not split in 3\n\n\n"
        "def make_task():\n    return _load(4)\n"
    )
    spec = write_spec(tmp_path, task="deep_factory:make_task", task_args={})
    result = cli("run", spec, "--storage", _url(tmp_path))
    _one_error(result, 2, "task 'deep_factory:make_task' failed to build (RuntimeError: shape '[3, -1]' is invalid")
    factory = tmp_path / "deep_factory.py"
    lines = result.output.split("error:")[1].splitlines()
    frames = [line.strip() for line in lines[1:] if line.strip()]
    assert frames == [  # the user's frames, innermost last: none of tempopt's or torch's
        "in your code:",
        f"at {factory}:9 in make_task",
        "return _load(4)",
        f"at {factory}:5 in _load",
        "return torch.zeros(n).view(3, -1)  # 4 does not split in 3",
    ]
    assert not (tmp_path / "studies.db").exists()


def test_an_exception_in_a_model_shows_the_users_own_frames(tmp_path, cli, task_modules):
    source = WRONG_STUDENT.replace("student=lambda: nn.Linear(5, 3)", "student=Broken")
    source += "\n\nclass Broken(nn.Module):\n    def forward(self, x):\n        return x[:, 99]\n"
    (tmp_path / "bad_forward.py").write_text(source)
    line = source.splitlines().index("        return x[:, 99]") + 1
    spec = write_spec(tmp_path, task="bad_forward:make_task", task_args={})
    result = cli("run", spec, "--storage", _url(tmp_path))
    _one_error(
        result, 2, "the student of task 'two-classes', run on 4 training inputs, raised IndexError: index 99 is out"
    )
    assert f"at {tmp_path / 'bad_forward.py'}:{line} in forward\n      return x[:, 99]\n" in result.output
    assert not (tmp_path / "studies.db").exists()


@pytest.fixture
def exported(tmp_path, cli):
    spec = write_spec(tmp_path, trials=2, verify={"seeds": 0})
    assert cli("run", spec, "--storage", _url(tmp_path), "-q").exit_code == 0
    path = tmp_path / "best.yaml"
    assert cli("export", "--study", "tiny", "--storage", _url(tmp_path), "--out", path).exit_code == 0
    return path


def test_export_to_a_folder_or_an_unwritable_path_and_over_a_file(tmp_path, cli, exported):
    (tmp_path / "folder").mkdir()
    _one_error(
        cli("export", "--study", "tiny", "--storage", _url(tmp_path), "--out", tmp_path / "folder"),
        2,
        "is a folder; give a file name",
    )
    _one_error(
        cli("export", "--study", "tiny", "--storage", _url(tmp_path), "--out", "/proc/tempopt/best.yaml"),
        3,  # the environment
        "cannot write '/proc/tempopt/best.yaml'",
    )
    again = cli("export", "--study", "tiny", "--storage", _url(tmp_path), "--out", exported)
    assert again.exit_code == 0 and f"overwrote {exported}" in again.output


def test_train_into_an_existing_file_fails_before_training(tmp_path, cli, exported):
    (tmp_path / "taken").write_text("keep me")
    result = cli("train", exported, "--out", tmp_path / "taken")
    _one_error(result, 2, "--out '" + str(tmp_path / "taken") + "' is a file")
    assert "retraining" not in result.output and (tmp_path / "taken").read_text() == "keep me"


TAMPERED = [
    ("a word for lr", lambda d: d["params"].update(lr="fast"), "params.lr = 'fast' is not a value of search.lr"),
    ("a missing param", lambda d: d["params"].pop("temperature"), "params has no 'temperature'"),
    ("an unsearched param", lambda d: d["params"].update(batch_size=0), "params has 'batch_size', which the study"),
    ("lr out of range", lambda d: d["params"].update(lr=5.0), "params.lr = 5.0 is not a value of search.lr"),
    ("a bad seed", lambda d: d.update(seed="x"), "key 'seed' must be a whole number >= 0"),
    ("a fixed value the study searches", lambda d: d.update(fixed={"lr": 0.5}), "fixed.lr = 0.5 is not what the study"),
    ("fixed not a mapping", lambda d: d.update(fixed=[0.5]), "key 'fixed' must be a mapping of names to values"),
]


@pytest.mark.parametrize("case, tamper, message", TAMPERED, ids=[c[0] for c in TAMPERED])
def test_train_refuses_a_tampered_export(tmp_path, cli, exported, case, tamper, message):
    data = yaml.safe_load(exported.read_text())
    tamper(data)
    exported.write_text(yaml.safe_dump(data))
    _one_error(cli("train", exported, "--out", tmp_path / "run"), 2, message)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "command, message",
    [
        ("run", "only the thread which opened it can see"),
        ("launch", "only the thread which opened it can see"),
        ("status", "in one process's memory, gone when it ended"),
    ],
)
def test_an_in_memory_sqlite_database_is_refused_in_one_sentence(tmp_path, cli, command, message):
    args = [] if command == "status" else [write_spec(tmp_path)]
    _one_error(cli(command, *args, "--storage", "sqlite:///:memory:"), 3, message)
