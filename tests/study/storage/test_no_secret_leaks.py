"""No storage password in anything tempopt prints or writes, whichever part of the URL holds it.

One tiny study in a fresh PostgreSQL database. The server trusts every connection, so each form
of URL below reaches the same database with its own password: ``launch`` runs the study with the
first form; then, with every form, ``launch`` and ``run`` resume it and ``status``, ``export``,
``report`` and ``dashboard`` read it, all as subprocesses (several at a time); some run once more
with the URL in ``$TEMPOPT_STORAGE``, and ``run`` with it in the study file (``storage:``), instead
of ``--storage``. Every byte they printed, every file
under the test's folder (exports, reports, worker logs, the teacher cache), every study and trial
attribute and note, and every row of the database are then searched for each password.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import optuna
import optuna_dashboard
import psycopg
import pytest
import yaml
from sqlalchemy.engine import make_url

from tempopt.study.storage.opening import normalise_url
from tests.workers.harness import free_port, fresh_database, study_dict, worker_env

pytestmark = pytest.mark.integration

NAME = "leak"
TIMEOUT = 180
JOBS = 4  # commands at a time: each imports torch, the machine may have 2 cores


def _userinfo(url: str, secret: str) -> str:
    return make_url(url).set(password=secret).render_as_string(hide_password=False)


def _query(key: str) -> Callable[[str, str], str]:
    return lambda url, secret: f"{url}{'&' if '?' in url else '?'}{key}={secret}"


# form: how the password goes into the URL, the password
FORMS: dict[str, tuple[Callable[[str, str], str], str]] = {
    "userinfo": (_userinfo, "S3cretA"),
    "password query": (_query("password"), "S3cretB"),
    "sslpassword query": (_query("sslpassword"), "S3cretC"),
}
ENV_FORM = "password query"  # also given through $TEMPOPT_STORAGE
FILE_SECRET = "S3cretD"  # in the ``storage:`` of a study file, as a password query
SECRETS = [secret for _, secret in FORMS.values()] + [FILE_SECRET]
OPTION, ENV, FILE = "--storage", "$TEMPOPT_STORAGE", "the study file"  # where a command finds the URL


@dataclass
class Output:
    """What one CLI command printed, and with which URL."""

    form: str
    via: str
    args: list[str]
    text: str = ""
    code: int | None = None

    @property
    def command(self) -> str:
        return f"tempopt {' '.join(self.args)} (storage in {self.via})"


@dataclass
class Trace:
    """Everything the commands of the test left: their outputs, their folder, the URLs."""

    tmp: Path
    cache: Path
    urls: dict[str, str]
    outputs: list[Output] = field(default_factory=list)

    def start(self, form: str, *args: str | Path, via: str = OPTION) -> tuple[Output, subprocess.Popen]:
        output = Output(form, via, [str(a) for a in args])
        env = worker_env()
        cmd = [sys.executable, "-m", "tempopt", *output.args]
        if via == ENV:
            env["TEMPOPT_STORAGE"] = self.urls[form]
        elif via == OPTION:
            cmd += ["--storage", self.urls[form]]
        proc = subprocess.Popen(
            cmd, cwd=self.tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        self.outputs.append(output)
        return output, proc

    def run(self, form: str, *args: str | Path, via: str = OPTION) -> Output:
        output, proc = self.start(form, *args, via=via)
        _collect(output, proc)
        return output

    def dashboard(self, form: str) -> Output:
        """``tempopt dashboard``: once it serves its studies (or after 30 s), read them and stop it."""
        port = free_port()
        output, proc = self.start(form, "dashboard", "--port", port)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=5) as response:
                    output.text += "\n[served] " + response.read().decode(errors="replace")
                break
            except OSError:
                time.sleep(0.2)
        if proc.poll() is None:
            proc.terminate()
        _collect(output, proc)
        return output

    def files(self) -> list[Path]:
        return [path for folder in (self.tmp, self.cache) for path in folder.rglob("*") if path.is_file()]


def _collect(output: Output, proc: subprocess.Popen) -> None:
    try:
        text, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        text, _ = proc.communicate()
    output.text += text.decode(errors="replace")
    output.code = proc.returncode


def _slug(form: str) -> str:
    return re.sub(r"\W+", "-", form)


def _all_at_once(jobs: list[Callable[[], Output]]) -> None:
    with ThreadPoolExecutor(JOBS) as pool:
        for future in [pool.submit(job) for job in jobs]:
            future.result()


@pytest.fixture(scope="module")
def trace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trace]:
    """Run every command with every form of URL on one study, once for the whole module."""
    tmp, cache = tmp_path_factory.mktemp("leaks"), tmp_path_factory.mktemp("teacher-cache")
    inputs = tmp_path_factory.mktemp("inputs")  # the study files: not searched, one holds a password
    study = inputs / "study.yaml"
    spec = study_dict(NAME, cache, trials=2, epochs=2, verify={"top_k": 1, "seeds": 1})
    study.write_text(yaml.safe_dump(spec, sort_keys=False))
    with fresh_database("postgresql", tmp) as plain:
        t = Trace(tmp, cache, {form: put(plain, secret) for form, (put, secret) in FORMS.items()})
        t.urls[FILE] = _query("password")(plain, FILE_SECRET)
        with_storage = inputs / "study-with-storage.yaml"
        with_storage.write_text(yaml.safe_dump({**spec, "storage": t.urls[FILE]}, sort_keys=False))
        first, *others = FORMS

        def launch(form: str) -> Output:
            return t.run(form, "launch", study, "--workers", 1, "--log-dir", tmp / f"logs-{_slug(form)}")

        launch(first)  # runs the study: trials, then verification
        resume: list[Callable[[], Output]] = [lambda f=f: launch(f) for f in others]
        resume += [lambda f=f: t.run(f, "run", study) for f in FORMS]
        resume.append(lambda: t.run(ENV_FORM, "run", study, via=ENV))
        resume.append(lambda: t.run(FILE, "run", with_storage, via=FILE))
        _all_at_once(resume)
        read: list[Callable[[], Output]] = [job for form in FORMS for job in _readers(t, form)]
        env = t.tmp / f"best-{_slug(ENV_FORM)}-env.yaml"
        read += [
            lambda: t.run(ENV_FORM, "status", "--study", NAME, via=ENV),
            lambda: t.run(ENV_FORM, "export", "--study", NAME, "--out", env, via=ENV),
            lambda: t.run(ENV_FORM, "report", "--help", via=ENV),  # no default shown from the environment
        ]
        _all_at_once(read)
        yield t


def _readers(t: Trace, form: str) -> list[Callable[[], Output]]:
    """The commands that read the study, each writing into its own files."""
    tag = _slug(form)
    commands: list[tuple[str | Path, ...]] = [
        ("status",),
        ("status", "--study", NAME),
        ("export", "--study", NAME, "--out", t.tmp / f"best-{tag}.yaml"),
        ("report", "--study", NAME, "--out", t.tmp / f"report-{tag}", "--bootstrap", 0),
    ]
    return [*(lambda a=a: t.run(form, *a) for a in commands), lambda: t.dashboard(form)]


def test_every_command_ran_and_showed_the_url_masked(trace):
    failed = [(o.command, o.text[-3000:]) for o in trace.outputs if o.code != 0 and o.args[0] != "dashboard"]
    assert not failed
    commands = {(o.form, o.via, o.args[0]) for o in trace.outputs}
    for form in FORMS:
        assert {(form, OPTION, c) for c in ("launch", "run", "status", "export", "report", "dashboard")} <= commands
    assert {(ENV_FORM, ENV, c) for c in ("run", "status", "export", "report")} | {(FILE, FILE, "run")} <= commands
    for o in trace.outputs:
        if o.args[0] in ("launch", "run", "status", "dashboard") and "--help" not in o.args:
            assert "postgresql://postgres" in o.text and "***" in o.text, f"{o.command} shows no masked URL:\n{o.text}"
    dashboards = [o for o in trace.outputs if o.args[0] == "dashboard"]
    assert all("[served]" in o.text for o in dashboards), [o.text for o in dashboards]


@pytest.mark.parametrize("secret", SECRETS)
def test_no_command_prints_the_password(trace, secret):
    for o in trace.outputs:
        assert secret not in o.text, f"`{o.command}` printed it:\n{o.text}"


@pytest.mark.parametrize("secret", SECRETS)
def test_no_file_holds_the_password(trace, secret):
    files = trace.files()
    names = {p.name for p in files}
    assert {"report.html", "report.md", "worker-0.log"} <= names
    assert {f"best-{_slug(form)}.yaml" for form in FORMS} | {f"best-{_slug(ENV_FORM)}-env.yaml"} <= names
    for f in FORMS:
        assert (trace.tmp / f"logs-{_slug(f)}" / "worker-0.log").is_file()
    for path in files:
        assert secret.encode() not in path.read_bytes(), f"{path} holds it"


@pytest.mark.parametrize("secret", SECRETS)
def test_no_study_attribute_note_or_row_holds_the_password(trace, secret):
    url = trace.urls["userinfo"]
    storage = optuna.storages.RDBStorage(normalise_url(url))
    try:
        studies = storage.get_all_studies()
        assert (
            NAME in {s.study_name for s in studies} and len(studies) == 3
        )  # the search, its baseline and verification
        for s in studies:
            study = optuna.load_study(study_name=s.study_name, storage=storage)
            note = optuna_dashboard.get_note(study)
            attrs = [study.user_attrs, storage.get_study_system_attrs(s._study_id), note]
            attrs += [(t.user_attrs, t.system_attrs) for t in study.get_trials(deepcopy=False)]
            assert s.study_name != NAME or ("spec" in study.user_attrs and f"## {NAME}" in note)
            assert secret not in repr(attrs), f"study {s.study_name!r} holds it"
    finally:
        storage.engine.dispose()
    with psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(False)) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        assert {"studies", "trials", "study_user_attributes"} <= set(tables)
        for table in tables:
            rows = conn.execute(f'SELECT CAST(t AS text) FROM "{table}" t').fetchall()
            assert not any(secret in text for (text,) in rows), f"table {table} holds it"
