"""grpc:// storages: URL parsing, the proxy's errors, and a real `tempopt grpc-proxy` process."""

from __future__ import annotations

import importlib.util
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from tempopt.errors import StorageError, TempoptError
from tempopt.study.storage.grpc_client import (
    ProxyAddress,
    is_grpc_url,
    is_unavailable,
    open_grpc_storage,
    parse_grpc_url,
)
from tempopt.study.storage.grpc_server import start_grpc_proxy
from tempopt.study.storage.heartbeats import fail_dead_trials, heartbeat
from tempopt.study.storage.opening import open_storage

needs_grpc = pytest.mark.skipif(
    importlib.util.find_spec("grpc") is None, reason="grpcio is not installed: pip install 'tempopt[grpc]'"
)
# `tempopt grpc-proxy` as a subprocess, whether or not tempopt/cli/__init__.py imports its module yet.
PROXY_CLI = [sys.executable, "-c", "import tempopt.cli.proxy_commands; from tempopt.cli import main; main()"]


@pytest.mark.parametrize(
    ("url", "host", "port", "target"),
    [
        ("grpc://127.0.0.1:13001", "127.0.0.1", 13001, "127.0.0.1:13001"),
        ("grpc://proxy.internal", "proxy.internal", 13000, "proxy.internal:13000"),
        ("GRPC://[::1]:5000/", "::1", 5000, "[::1]:5000"),
    ],
)
def test_parse_grpc_url(url: str, host: str, port: int, target: str) -> None:
    address = parse_grpc_url(url)
    assert address == ProxyAddress(host, port)
    assert address.target == target
    assert str(address) == f"grpc://{target}"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("grpc://alice:s3cret@proxy:13000", "no user or password"),
        ("grpc://proxy:13000/studies", "path or query"),
        ("grpc://proxy:13000?tls=1", "path or query"),
        ("grpc://proxy:99999", "port from 1 to 65535"),
        ("grpc://:13000", "needs a host"),
        ("postgresql://tempopt@db/tempopt", "not a gRPC proxy URL"),
    ],
)
def test_parse_grpc_url_rejects(url: str, says: str) -> None:
    with pytest.raises(StorageError, match=re.escape(says)) as info:
        parse_grpc_url(url)
    assert "s3cret" not in str(info.value)


def test_is_grpc_url() -> None:
    assert is_grpc_url("grpc://h:1") and is_grpc_url("GRPC://h")
    assert not is_grpc_url("postgresql://h/db") and not is_grpc_url("grpc") and not is_grpc_url("sqlite:///grpc.db")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@needs_grpc
def test_open_without_a_proxy_says_how_to_start_one() -> None:
    port = free_port()
    with pytest.raises(StorageError, match=rf"no gRPC storage proxy answered at grpc://127\.0\.0\.1:{port}") as info:
        open_grpc_storage(f"grpc://127.0.0.1:{port}", timeout=0.5)
    assert f"tempopt grpc-proxy --storage DATABASE_URL --port {port}" in str(info.value)


@needs_grpc
def test_proxy_refuses_to_front_another_proxy() -> None:
    with pytest.raises(StorageError, match="itself a gRPC proxy"):
        start_grpc_proxy("grpc://127.0.0.1:13000")


@needs_grpc
def test_second_proxy_on_a_taken_port_fails(tmp_path: Path) -> None:
    first = start_grpc_proxy(f"sqlite:///{tmp_path / 'a.db'}", port=0)
    try:
        assert first.address.port > 0
        with pytest.raises(TempoptError, match=rf"cannot listen on 127\.0\.0\.1:{first.address.port}"):
            start_grpc_proxy(f"sqlite:///{tmp_path / 'b.db'}", port=first.address.port)
    finally:
        first.stop(grace=0)


@needs_grpc
def test_a_stopped_proxy_is_unavailable_to_its_clients(tmp_path: Path) -> None:
    proxy = start_grpc_proxy(f"sqlite:///{tmp_path / 'a.db'}", port=0)
    client = open_grpc_storage(str(proxy.address), timeout=10)
    assert client.get_all_studies() == []
    proxy.stop(grace=0)
    with pytest.raises(Exception) as info:
        client.get_all_studies()
    assert is_unavailable(info.value)
    assert not is_unavailable(KeyError("no such study")) and not is_unavailable(ConnectionError())


@dataclass
class ProxyProcess:
    proc: subprocess.Popen[str]
    url: str
    database: str
    lines: list[str]


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[ProxyProcess]:
    """`tempopt grpc-proxy` on a free port in front of a fresh SQLite file."""
    database = f"sqlite:///{tmp_path / 'studies.db'}"
    proc = subprocess.Popen(
        [*PROXY_CLI, "grpc-proxy", "--storage", database, "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"},
    )
    lines: list[str] = []
    seen: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            seen.put(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        url = _wait_for_address(seen, proc)
        yield ProxyProcess(proc, url, database, lines)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def _wait_for_address(seen: queue.Queue[str], proc: subprocess.Popen[str]) -> str:
    while True:
        try:
            line = seen.get(timeout=90)
        except queue.Empty:
            pytest.fail("tempopt grpc-proxy printed no address within 90 s")
        match = re.search(r"listening on (grpc://127\.0\.0\.1:\d+)", line)
        if match:
            return match.group(1)
        if proc.poll() is not None and seen.empty():
            pytest.fail(f"tempopt grpc-proxy exited with {proc.returncode}")


@needs_grpc
@pytest.mark.integration
def test_trials_go_through_the_proxy_into_the_database(proxy: ProxyProcess) -> None:
    study = optuna.create_study(storage=open_grpc_storage(proxy.url), study_name="through-proxy", direction="maximize")
    study.set_user_attr("task", "digits")
    study.enqueue_trial({"temperature": 4.0})
    values = {}
    for step_values in ([0.5, 0.7], [0.4, 0.45], [0.6]):
        trial = study.ask()
        temperature = trial.suggest_float("temperature", 1.0, 20.0, log=True)
        for epoch, accuracy in enumerate(step_values, start=1):
            trial.report(accuracy, step=epoch)
        trial.set_user_attr("worker", "test")
        if len(step_values) == 1:
            study.tell(trial, state=TrialState.PRUNED)
        else:
            study.tell(trial, step_values[-1])
        values[trial.number] = (temperature, step_values)
    running = study.ask()

    direct = optuna.load_study(study_name="through-proxy", storage=open_storage(proxy.database))
    trials = direct.get_trials(deepcopy=False)
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE", "PRUNED", "RUNNING"]
    assert trials[0].params == {"temperature": 4.0}  # the queued trial came first
    for frozen in trials[:3]:
        suggested, steps = values[frozen.number]
        assert frozen.params["temperature"] == pytest.approx(suggested)
        assert [frozen.intermediate_values[e] for e in sorted(frozen.intermediate_values)] == steps
        assert frozen.user_attrs == {"worker": "test"}
    assert [t.value for t in trials[:3]] == [0.7, 0.45, 0.6]  # a pruned trial keeps its last report
    assert direct.user_attrs == {"task": "digits"}
    assert direct.best_trial.number == 0

    # What the docs promise about liveness behind the proxy: no heartbeats, no dead-trial sweep.
    with heartbeat(study, running):
        pass
    assert fail_dead_trials(study) == []
    assert direct.get_trials(deepcopy=False)[-1].state == TrialState.RUNNING

    proxy.proc.send_signal(signal.SIGTERM)
    assert proxy.proc.wait(timeout=30) == 0
    assert any("proxy stopped" in line for line in proxy.lines)


STUDY = """\
name: grpc-e2e
task: digits
task_args: {labelled: 200, student_hidden: 8, teacher_hidden: 32, teacher_epochs: 2}
epochs: 2
trials: 3
search:
  temperature: {low: 1.0, high: 20.0, log: true}
  kd_weight:   {low: 0.0, high: 1.0}
  lr:          {low: 1.0e-3, high: 1.0e-1, log: true}
baseline: false
device: cpu
sampler: {name: random}
pruner: {name: none}
"""


@needs_grpc
@pytest.mark.integration
def test_tempopt_run_worker_through_the_proxy(proxy: ProxyProcess, tmp_path: Path) -> None:
    try:
        open_storage(proxy.url)
    except StorageError as e:
        pytest.skip(f"tempopt.study.storage.opening.open_storage does not dispatch grpc:// URLs yet ({e})")
    study_file = tmp_path / "study.yaml"
    study_file.write_text(textwrap.dedent(STUDY))
    env = {**os.environ, "TEMPOPT_NUM_THREADS": "1", "COLUMNS": "200"}
    run = subprocess.run(
        [sys.executable, "-m", "tempopt", "run", str(study_file), "--storage", proxy.url, "--quiet"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3/3 finished" in run.stdout

    direct = optuna.load_study(study_name="grpc-e2e", storage=open_storage(proxy.database))
    finished = [t for t in direct.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    assert len(finished) == 3
    assert all(set(t.params) == {"temperature", "kd_weight", "lr"} for t in finished)
    assert all(sorted(t.intermediate_values) == [1, 2] for t in finished)
