"""``tempopt dashboard`` as a subprocess, its JSON API, and both pages in headless Chromium.

The browser tests drive Debian's ``chromium`` through the DevTools protocol (websocket-client):
they load the dashboard and the offline report, fail on any console error or uncaught
exception, check that the report asks the network for nothing, and save screenshots under
``test-artifacts/``. They skip only when no chromium binary is installed.
"""

from __future__ import annotations

import base64
import gzip
import itertools
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from tempopt.analysis import write_report
from tempopt.export import refresh_note as dashboard_note
from tempopt.study.search.metrics import name_metrics
from tempopt.study.storage.artifacts import attach_file as attach_report

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
N_TRIALS = 16  # baseline + 13 complete + 2 pruned
DISTS = {
    "temperature": FloatDistribution(1.0, 20.0, log=True),
    "kd_weight": FloatDistribution(0.0, 1.0),
    "lr": FloatDistribution(1e-4, 1e-1, log=True),
}
SPEC = {
    "name": "kd",
    "task": "digits",
    "epochs": 4,
    "trials": 15,
    "seed": 0,
    "search": {
        "temperature": {"low": 1.0, "high": 20.0, "log": True},
        "kd_weight": {"low": 0.0, "high": 1.0},
        "lr": {"low": 1e-4, "high": 1e-1, "log": True},
    },
}


def build_study(url: str) -> optuna.Study:
    """A small study as the runner writes it: baseline, complete and pruned trials."""
    rng = np.random.default_rng(0)
    study = optuna.create_study(study_name="kd", storage=url, direction="maximize")
    name_metrics(study, ["accuracy"])  # as tempopt's creation does
    study.set_user_attr("spec", SPEC)
    study.set_user_attr("teacher_accuracy", 0.95)
    for number in range(N_TRIALS):
        baseline = number == 0
        temperature = float(np.exp(rng.uniform(0, math.log(20.0))))
        params = {
            "temperature": math.sqrt(20.0) if baseline else temperature,
            "kd_weight": 0.0 if baseline else float(rng.uniform()),
            "lr": float(10 ** rng.uniform(-4, -1)),
        }
        log_t = math.log10(params["temperature"])
        value = 0.8 + 0.05 * params["kd_weight"] - 0.02 * abs(log_t - 0.6)
        pruned = number >= N_TRIALS - 2
        curve = {e: value - 0.03 * (4 - e) + float(rng.normal(0, 0.002)) for e in range(1, 5)}
        study.add_trial(
            optuna.trial.create_trial(
                state=TrialState.PRUNED if pruned else TrialState.COMPLETE,
                value=None if pruned else value,
                params=params,
                distributions=DISTS,
                intermediate_values={1: curve[1], 2: curve[2]} if pruned else curve,
                user_attrs={"baseline": baseline, "worker": f"host:{number % 2}", "seed": number},
            )
        )
    return study


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("dashboard")
    url = f"sqlite:///{root / 'tempopt.db'}"
    study = build_study(url)
    dashboard_note(study)
    files = write_report(study, root / "report", n_bootstrap=2)
    artifact_id = attach_report(study, files.html, root / "artifacts")
    return {"url": url, "root": root, "report": files.html, "artifact_id": artifact_id}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str) -> tuple[bytes, dict[str, str]]:
    """GET like a browser would (optuna-dashboard reads Accept-Encoding unconditionally)."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=10) as response:
        body, headers = response.read(), dict(response.headers)
    if headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return body, headers


@pytest.fixture(scope="module")
def dashboard(workspace) -> Iterator[str]:
    port = free_port()
    log = (workspace["root"] / "dashboard.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from tempopt.cli import main; main()",
            "dashboard",
            "--storage",
            workspace["url"],
            "--port",
            str(port),
            "--artifacts",
            str(workspace["root"] / "artifacts"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workspace["root"],
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                http_get(f"{base}/api/meta")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail("dashboard did not start:\n" + (workspace["root"] / "dashboard.log").read_text())
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def study_id(base: str) -> int:
    studies = json.loads(http_get(f"{base}/api/studies")[0])["study_summaries"]
    return next(s["study_id"] for s in studies if s["study_name"] == "kd")


def test_dashboard_lists_the_study(dashboard):
    body, headers = http_get(f"{dashboard}/api/studies")
    assert headers["Content-Type"].startswith("application/json")
    studies = json.loads(body)["study_summaries"]
    assert [(s["study_name"], s["directions"]) for s in studies] == [("kd", ["maximize"])]


def test_dashboard_study_detail_has_trials_note_and_report(dashboard, workspace):
    detail = json.loads(http_get(f"{dashboard}/api/studies/{study_id(dashboard)}")[0])
    trials = detail["trials"]
    assert [t["number"] for t in trials] == list(range(N_TRIALS))
    assert [t["state"] for t in trials].count("Pruned") == 2
    assert {p["name"] for p in trials[1]["params"]} == {"temperature", "kd_weight", "lr"}
    assert {"key": "baseline", "value": "True"} in trials[0]["user_attrs"]
    assert "| temperature | 1.0 – 20.0 (log) |" in detail["note"]["body"]
    assert "**Best configuration:** trial #" in detail["note"]["body"]
    assert detail["objective_names"] == ["val_accuracy"]  # not "Objective 0"
    assert [a["filename"] for a in detail["artifacts"]] == ["report.html"]


def test_dashboard_serves_the_attached_report(dashboard, workspace):
    url = f"{dashboard}/artifacts/{study_id(dashboard)}/{workspace['artifact_id']}"
    body, headers = http_get(url)
    assert headers["Content-Type"].startswith("text/html")
    assert body == workspace["report"].read_bytes()


class Chromium:
    """Headless Chromium driven over the DevTools protocol, one page at a time."""

    def __init__(self, binary: str, profile: Path) -> None:
        self._stderr = (profile / "chromium.log").open("w")
        self.proc = subprocess.Popen(
            [
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-port=0",
                "--window-size=1280,900",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
        )
        self.port = self._devtools_port(profile / "chromium.log")
        self._ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    def _devtools_port(self, log: Path) -> int:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", log.read_text())
            if found:
                return int(found.group(1))
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError("chromium did not start:\n" + log.read_text())

    def open(self, url: str) -> None:
        """Open ``url`` in a fresh tab, recording console, exception and network events."""
        import websocket  # test dependency: websocket-client

        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(request, timeout=10) as response:
            target = json.loads(response.read())
        self.ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        self.events = []
        for domain in ("Runtime", "Log", "Page", "Network"):
            self.call(f"{domain}.enable")
        self.call("Page.navigate", url=url)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        message_id = next(self._ids)
        self.ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self.events.append(message)

    def wait_for(self, expression: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
            if result["result"].get("value") is True:
                return
            time.sleep(0.2)
        raise AssertionError(f"page never satisfied {expression!r}; errors: {self.errors()}")

    def evaluate(self, expression: str) -> Any:
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data["data"]))

    def errors(self) -> list[str]:
        out = []
        for e in self.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.exceptionThrown":
                out.append(json.dumps(params["exceptionDetails"])[:500])
            elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                out.append(json.dumps(params["args"])[:500])
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                out.append(params["entry"]["text"][:500])
        return out

    def requested_urls(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]

    def close(self) -> None:
        if getattr(self, "ws", None) is not None:
            self.ws.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Chromium]:
    if CHROMIUM is None:
        pytest.skip("no chromium binary (apt-get install chromium)")
    profile = Path(tempfile.mkdtemp(prefix="tempopt-chromium-"))
    browser = Chromium(CHROMIUM, profile)
    try:
        yield browser
    finally:
        browser.close()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.mark.browser
def test_dashboard_page_renders_the_study_without_console_errors(chromium, dashboard):
    chromium.open(f"{dashboard}/dashboard/studies/{study_id(dashboard)}")
    chromium.wait_for("document.body.innerText.includes('Best Trial (number=')")
    chromium.wait_for("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 4")
    time.sleep(0.5)  # let late requests report their errors
    chromium.screenshot(ARTIFACTS / "dashboard-study.png")
    assert chromium.errors() == []
    assert all(u.startswith((dashboard, "data:")) for u in chromium.requested_urls())


@pytest.mark.browser
def test_dashboard_note_tab_shows_the_spec(chromium, dashboard):
    chromium.open(f"{dashboard}/dashboard/studies/{study_id(dashboard)}/note")
    chromium.wait_for("document.body.innerText.includes('Full report: tempopt report')")
    chromium.screenshot(ARTIFACTS / "dashboard-note.png")
    text = chromium.evaluate("document.body.innerText")
    assert "task: digits" in text and "1.0 – 20.0 (log)" in text
    assert chromium.errors() == []


@pytest.mark.browser
def test_report_renders_offline_without_console_errors(chromium, workspace):
    chromium.open(workspace["report"].as_uri())
    chromium.wait_for(
        "document.readyState === 'complete' && document.querySelectorAll('div.plotly-graph-div').length === 8"
    )
    chromium.wait_for(
        "Array.from(document.querySelectorAll('div.plotly-graph-div')).every(d => d.querySelector('.main-svg'))"
    )
    chromium.screenshot(ARTIFACTS / "report.png")
    assert chromium.errors() == []
    external = [u for u in chromium.requested_urls() if not u.startswith(("file:", "data:"))]
    assert external == []
    assert chromium.evaluate("typeof Plotly") == "object"
    assert os.path.getsize(ARTIFACTS / "report.png") > 50_000  # a page, not a blank frame
