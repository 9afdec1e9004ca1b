"""One rule for exit codes: 0 done, 2 bad input, 3 the environment, 130/143 interrupted; options
of worker and launch checked before anything is created; messages shown as written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
import sqlalchemy.exc

from tests.cli.conftest import write_spec
from tests.cli.test_bad_commands import _one_error, _url


def test_worker_with_a_device_that_is_no_device_exits_2_and_records_nothing(tmp_path, cli):
    assert cli("submit", write_spec(tmp_path), "--storage", _url(tmp_path)).exit_code == 0
    result = cli("worker", "--storage", _url(tmp_path), "--device", "banana", "--max-idle", "1")
    _one_error(result, 2, "device 'banana' is not a torch device; use auto, cpu or cuda[:N].")
    study = optuna.load_study(study_name="tiny", storage=_url(tmp_path))
    assert not study.user_attrs.get("problems") and not study.trials


def test_worker_with_an_alive_file_it_cannot_write_exits_3_before_serving(tmp_path, cli):
    (tmp_path / "a-file").write_text("")
    result = cli("worker", "--storage", _url(tmp_path), "--alive-file", tmp_path / "a-file" / "alive")
    _one_error(result, 3, f"cannot write --alive-file '{tmp_path / 'a-file' / 'alive'}'")
    assert not (tmp_path / "studies.db").exists()


def test_launch_with_a_log_dir_that_is_a_file_exits_2_before_the_study_is_created(tmp_path, cli):
    (tmp_path / "logs").write_text("mine")
    result = cli("launch", write_spec(tmp_path), "--storage", _url(tmp_path), "--log-dir", tmp_path / "logs")
    _one_error(result, 2, f"--log-dir '{tmp_path / 'logs'}' is a file; give a folder.")
    assert not (tmp_path / "studies.db").exists() and (tmp_path / "logs").read_text() == "mine"


def test_a_message_is_shown_as_written_not_read_as_markup(tmp_path, cli):
    spec = write_spec(tmp_path, trials=1, verify={"seeds": 0})
    assert cli("run", spec, "--storage", _url(tmp_path), "-q").exit_code == 0
    _one_error(cli("status", "--storage", _url(tmp_path), "--study", "run[grpc]"), 3, "no study named 'run[grpc]'")


@pytest.mark.parametrize("command", ["cancel", "pause"])
def test_cancel_of_a_study_never_submitted_is_bad_input(tmp_path, cli, command):
    optuna.create_study(study_name="plain", storage=_url(tmp_path))
    _one_error(cli(command, "plain", "--storage", _url(tmp_path)), 2, "study 'plain' was not submitted")


HANGING = """import pathlib, time


def make_task():
    pathlib.Path("in-factory").touch()
    while True:
        time.sleep(0.05)
"""


@pytest.mark.integration
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_a_run_whose_task_factory_hangs(tmp_path, signum):
    (tmp_path / "hanging.py").write_text(HANGING)
    spec = write_spec(tmp_path, task="hanging:make_task", task_args={})
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tempopt", "run", str(spec), "--storage", _url(tmp_path), "-q"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "in-factory").exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout and proc.stdout.read()
            time.sleep(0.1)
        proc.send_signal(signum)
        start = time.monotonic()
        output, _ = proc.communicate(timeout=5)
        assert time.monotonic() - start < 5
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signum, output
    assert f"stopped by {signal.Signals(signum).name} before the first trial" in output
    assert "Traceback" not in output and not (tmp_path / "studies.db").exists()


def _trials(db) -> int:
    try:
        summaries = optuna.get_all_study_summaries(f"sqlite:///{db}")
    except sqlalchemy.exc.OperationalError:  # its tables are being created
        return 0
    return sum(s.n_trials for s in summaries if s.study_name == "tiny")


@pytest.mark.integration
def test_a_run_whose_sqlite_file_vanished_exits_3(tmp_path):
    spec = write_spec(tmp_path, trials=30, epochs=3, verify={"seeds": 0}, teacher={"epochs": 5, "lr": 0.01})
    proc = subprocess.Popen(
        [sys.executable, "-m", "tempopt", "run", str(spec), "--storage", _url(tmp_path), "-q"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        db = tmp_path / "studies.db"
        while not (db.exists() and _trials(db) >= 1):  # its identity taken, its trials running
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        db.unlink()
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, output
    assert "was deleted or replaced while the command ran, so what it wrote is lost" in " ".join(output.split())
