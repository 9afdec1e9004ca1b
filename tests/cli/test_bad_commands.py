"""Bad input beyond the study file: one sentence, a non-zero exit code, nothing half-written."""

from __future__ import annotations

import pytest
import yaml

from tests.cli.conftest import write_spec


def _url(tmp_path):
    return f"sqlite:///{tmp_path / 'studies.db'}"


def _one_error(result, code: int, message: str) -> None:
    assert result.exit_code == code, result.output
    assert message in " ".join(result.output.split()), result.output
    assert result.output.count("error:") == 1 and "Traceback" not in result.output


@pytest.fixture
def task_modules(tmp_path, monkeypatch):
    (tmp_path / "raising_factory.py").write_text("def make_task():\n    raise RuntimeError('no data here')\n")
    (tmp_path / "raising_import.py").write_text("raise ImportError('a missing dependency')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)


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
        "a task arg of the wrong type",
        {"task_args": {"labelled": "lots"}},
        "task 'digits' failed to build with task_args {'labelled': 'lots'} (TypeError",
    ),
    ("cache_dir is a file", {"cache_dir": "a-file"}, "cache_dir 'a-file' is a file, not a folder"),
]


@pytest.mark.parametrize("case, overrides, message", RUN_CASES, ids=[c[0] for c in RUN_CASES])
def test_run_refuses_with_one_sentence_and_writes_no_storage(tmp_path, cli, task_modules, case, overrides, message):
    (tmp_path / "a-file").write_text("")
    spec = write_spec(tmp_path, **overrides)
    _one_error(cli("run", spec, "--storage", _url(tmp_path)), 2, message)
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
        1,
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
