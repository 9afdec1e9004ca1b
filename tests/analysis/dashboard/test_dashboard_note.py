"""The dashboard note, the exposed-host check and the ``dashboard`` command's options."""

from __future__ import annotations

import socket

import optuna
import optuna_dashboard
import pytest
from typer.testing import CliRunner

import tempopt.analysis as analysis
import tempopt.cli  # noqa: F401  registers every command on the app
from tempopt.analysis import is_exposed, serve_dashboard, spec_note
from tempopt.cli.app import app
from tempopt.errors import TempoptError
from tempopt.export import refresh_note as dashboard_note
from tests.analysis.studies import add_verification, make_study, only_temperature


def test_the_note_summarises_the_spec_and_is_saved_for_the_dashboard():
    study = make_study(only_temperature, 2)
    dashboard_note(study)
    note = optuna_dashboard.get_note(study)
    assert note == spec_note(study)
    assert note.startswith("## kd")
    assert "task: **digits**" in note and "epochs: **5**" in note
    assert "sampler: **tpe(startup_trials=10)**" in note
    assert "pruner: **median(warmup_epochs=2)**" in note
    assert "| temperature | 1.0 – 20.0 (log) |" in note
    assert "| kd_weight | 0.0 – 1.0 |" in note
    assert "teacher_accuracy: 0.95" in note
    assert "**Verdict:** No evidence that distillation helped: verification has not run yet" in note


def test_the_note_shows_the_verdict_once_verified():
    study = make_study(only_temperature, 20)
    add_verification(study, 0.95, 0.85)
    dashboard_note(study)
    assert "**Verdict:** Distillation helped: +0.0" in optuna_dashboard.get_note(study)


def test_a_study_without_spec_gets_a_note_that_says_so():
    study = optuna.create_study(study_name="plain")
    assert "no `spec` user attr" in spec_note(study)


@pytest.mark.parametrize(
    ("host", "exposed"),
    [
        ("127.0.0.1", False),
        ("localhost", False),
        ("::1", False),
        ("127.0.0.2", False),
        ("0.0.0.0", True),
        ("::", True),
        ("192.168.1.5", True),
        ("myhost.example", True),
    ],
)
def test_only_loopback_hosts_are_private(host, exposed):
    assert is_exposed(host) is exposed


def test_dashboard_command_warns_when_binding_every_interface(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(analysis, "serve_dashboard", lambda url, **kw: calls.append((url, kw)))
    url = f"sqlite:///{tmp_path / 'x.db'}"
    result = CliRunner().invoke(app, ["dashboard", "--storage", url, "--host", "0.0.0.0", "--port", "9999"])
    assert result.exit_code == 0, result.output
    assert "warning: binding 0.0.0.0 lets anyone" in result.output
    assert calls == [(url, {"host": "0.0.0.0", "port": 9999, "artifact_dir": None})]


def test_dashboard_command_is_quiet_and_loopback_by_default(monkeypatch):
    monkeypatch.delenv("TEMPOPT_STORAGE", raising=False)
    calls = []
    monkeypatch.setattr(analysis, "serve_dashboard", lambda url, **kw: calls.append((url, kw)))
    result = CliRunner().invoke(app, ["dashboard"])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    assert calls == [("sqlite:///tempopt.db", {"host": "127.0.0.1", "port": 8080, "artifact_dir": None})]


def test_dashboard_storage_falls_back_to_the_environment(monkeypatch):
    calls = []
    monkeypatch.setattr(analysis, "serve_dashboard", lambda url, **kw: calls.append(url))
    monkeypatch.setenv("TEMPOPT_STORAGE", "postgresql://u@db/tempopt")
    assert CliRunner().invoke(app, ["dashboard"]).exit_code == 0
    assert CliRunner().invoke(app, ["dashboard", "--storage", "sqlite:///a.db"]).exit_code == 0
    assert calls == ["postgresql://u@db/tempopt", "sqlite:///a.db"]


def test_a_busy_port_is_one_error_naming_the_port(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    make_study(only_temperature, 1, storage=url)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(TempoptError, match=f"cannot listen on 127.0.0.1:{port}"):
            serve_dashboard(url, port=port)
