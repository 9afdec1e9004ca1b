"""What the worker tests share: fresh databases, a tiny study file, the CLI as a subprocess.

Each test gets its own database (``t_<uuid>`` on the PostgreSQL and MariaDB servers that
``.ci/run`` starts, a file in ``tmp_path`` for SQLite) and drops it afterwards, so the tests
stay independent of each other and of other suites using the same servers. A server that is
not running makes the test fail, never skip: these tests must run in CI.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import FrozenTrial, TrialState

REPO = Path(__file__).resolve().parents[2]
POSTGRES_ADMIN = os.environ.get("TEMPOPT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
MARIADB_ADMIN = os.environ.get("TEMPOPT_TEST_MARIADB", "mysql://root@127.0.0.1:3306/test")
BACKENDS = ("sqlite", "postgresql", "mariadb")
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
# What a worker log must never contain: a traceback, or a storage error that was not handled.
LOG_ALARMS = ("Traceback", "OperationalError", "InterfaceError", "StorageInternalError", "IntegrityError")


def _server_error(backend: str, url: str, e: Exception) -> RuntimeError:
    return RuntimeError(
        f"the {backend} server at {url} is not reachable ({e}); start it as .ci/run does "
        f"(or set TEMPOPT_TEST_{'POSTGRES' if backend == 'postgresql' else 'MARIADB'})."
    )


@contextlib.contextmanager
def fresh_database(backend: str, tmp_path: Path) -> Iterator[str]:
    """A new, empty database on ``backend`` for one test, dropped when the test ends.

    Yields:
        Its SQLAlchemy URL, in the plain form a user would type (``postgresql://…``).
    """
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'study.db'}"
        return
    name = f"t_{uuid.uuid4().hex[:16]}"
    if backend == "postgresql":
        yield from _postgres_database(name)
    elif backend == "mariadb":
        yield from _mariadb_database(name)
    else:
        raise ValueError(backend)


def _postgres_database(name: str) -> Iterator[str]:
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(POSTGRES_ADMIN)
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        conn = psycopg.connect(conninfo, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as e:
        raise _server_error("postgresql", POSTGRES_ADMIN, e) from e
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield admin.set(database=name).render_as_string(hide_password=False)
        finally:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _mariadb_database(name: str) -> Iterator[str]:
    import pymysql
    from sqlalchemy.engine import make_url

    admin = make_url(MARIADB_ADMIN)
    try:
        conn = pymysql.connect(
            host=admin.host,
            port=admin.port or 3306,
            user=admin.username,
            password=admin.password or "",
            autocommit=True,
            connect_timeout=10,
        )
    except pymysql.err.OperationalError as e:
        raise _server_error("mariadb", MARIADB_ADMIN, e) from e
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}`")
        try:
            yield admin.set(database=name).render_as_string(hide_password=False)
        finally:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()


def study_dict(name: str, cache_dir: Path, trials: int = 12, epochs: int = 4, **overrides: Any) -> dict:
    """A digits study whose trials take a fraction of a second (fixed size: no pruning)."""
    spec: dict[str, Any] = {
        "name": name,
        "task": "digits",
        "task_args": {"labelled": 300, "student_hidden": 16, "teacher_hidden": 64},
        "epochs": epochs,
        "trials": trials,
        "search": {
            "temperature": {"low": 1.0, "high": 10.0, "log": True},
            "kd_weight": {"low": 0.0, "high": 1.0},
            "lr": {"low": 1.0e-3, "high": 1.0e-1, "log": True},
        },
        "batch_size": 32,
        "seed": 0,
        "device": "cpu",
        "baseline_lrs": [1.0e-2],
        "teacher": {"epochs": 10},
        "cache_dir": str(cache_dir),
        "sampler": {"name": "random"},
        "pruner": {"name": "none"},
        "failure": {"heartbeat_interval": 1, "grace_period": 4, "max_retry": 3},
        "verify": {"top_k": 1, "seeds": 1},
    }
    spec.update(overrides)
    return spec


def worker_env(threads: int = 1) -> dict[str, str]:
    """The environment of a CLI subprocess: one CPU thread, this checkout importable."""
    env = {**os.environ, "TEMPOPT_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.pop("TEMPOPT_STORAGE", None)
    return env


@dataclass
class StudyHarness:
    """One test's study: its file, its database, the CLI processes it started, and what they left."""

    tmp: Path
    url: str
    cache_dir: Path
    name: str = "it"
    procs: list[subprocess.Popen] = field(default_factory=list)
    signalled: set[int] = field(default_factory=set)
    _storage: optuna.storages.RDBStorage | None = None

    def write_study(self, **overrides: Any) -> Path:
        """Write the study file (``study_dict`` with ``overrides``) and return its path."""
        path = self.tmp / "study.yaml"
        data = study_dict(self.name, self.cache_dir, **overrides)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    def start(self, *args: str | Path, log: str, url: str | None = None) -> subprocess.Popen:
        """Start ``python -m tempopt ARGS --storage URL``; its stdout and stderr go to ``tmp/log``."""
        cmd = [sys.executable, "-m", "tempopt", *map(str, args), "--storage", url or self.url]
        out = open(self.tmp / log, "ab")  # noqa: SIM115 - the child owns it
        proc = subprocess.Popen(
            cmd, cwd=self.tmp, env=worker_env(), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        out.close()
        self.procs.append(proc)
        return proc

    def run(self, *args: str | Path, log: str, timeout: float = 120, url: str | None = None) -> int:
        """Run a CLI command to its end; returns the exit code."""
        proc = self.start(*args, log=log, url=url)
        return proc.wait(timeout=timeout)

    def signal(self, proc: subprocess.Popen, signum: int) -> None:
        """Send ``signum`` to a process this test started; its exit is then expected."""
        self.signalled.add(proc.pid)
        os.kill(proc.pid, signum)

    def log(self, name: str) -> str:
        return (self.tmp / name).read_text(errors="replace")

    @property
    def storage(self) -> optuna.storages.RDBStorage:
        """A plain reader of the study's storage (no heartbeat: it only looks)."""
        if self._storage is None:
            self._storage = optuna.storages.RDBStorage(_driver_url(self.url))
        return self._storage

    def study_names(self) -> list[str]:
        """Every study in the database (the search and its verification studies)."""
        return sorted(s.study_name for s in self.storage.get_all_studies())

    def all_trials(self) -> list[FrozenTrial]:
        """Every trial that counts toward the study's total: its own and its baseline sibling's
        (each study numbers its trials: no number twice in one study)."""
        studies = [self.trials(), self.trials(f"{self.name}:baseline")]
        for trials in studies:
            numbers = [t.number for t in trials]
            assert len(numbers) == len(set(numbers)), f"duplicate trial numbers: {numbers}"
        return studies[0] + studies[1]

    def trials(self, study: str | None = None) -> list[FrozenTrial]:
        """Every trial of the study (or of ``study``), by number; none while it does not exist yet."""
        for attempt in range(20):
            try:
                study_id = self.storage.get_study_id_from_name(study or self.name)
                return sorted(self.storage.get_all_trials(study_id), key=lambda t: t.number)
            except KeyError:
                return []
            except Exception:  # noqa: BLE001 - a private server being restarted by the test
                if attempt == 19:
                    raise
                time.sleep(0.5)
        raise AssertionError("unreachable")

    def wait_for(
        self, predicate: Callable[[list[FrozenTrial]], Any], timeout: float, what: str, study: str | None = None
    ) -> Any:
        """Poll the trials (of ``study``) until ``predicate`` returns something truthy; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = predicate(self.trials(study))
            if found:
                return found
            dead = [p for p in self.procs if p.poll() and p.pid not in self.signalled]
            if dead:
                raise AssertionError(f"a process exited with {dead[0].returncode} while waiting for {what}")
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")

    def close(self) -> None:
        """Kill whatever is still running and release the reader's connections."""
        for proc in self.procs:
            if proc.poll() is None:
                for pid in [*children(proc.pid), proc.pid]:  # launch's workers have their own session
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                proc.wait(timeout=30)
        self.disconnect()

    def disconnect(self) -> None:
        """Close the reader's database connections (it reconnects when next used)."""
        if self._storage is not None:
            self._storage.engine.dispose()
            self._storage = None


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (read from /proc)."""
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                kids.append(int(stat.parent.name))
    return kids


def _driver_url(url: str) -> str:
    from tempopt.study.storage.opening import normalise_url

    return normalise_url(url)


SLOW = {"epochs": 30, "batch_size": 4}
"""Trials of over a second (0.5 s of which before their first values are written) on a fast
2-core VM, so that a signal sent once one is seen in the middle of its training lands there."""


def mid_training(trial: FrozenTrial) -> bool:
    """RUNNING, with values written while it trains (a job writes its first values after 0.5 s,
    and its last together with what it measured, ``compute_seconds``, a moment before its tell)."""
    running = trial.state == TrialState.RUNNING
    return running and bool(trial.intermediate_values) and "compute_seconds" not in trial.user_attrs


def any_running_epoch(trials: list[FrozenTrial]) -> FrozenTrial | None:
    """A predicate: any trial in the middle of its training, with epochs reported."""
    return next((t for t in trials if mid_training(t)), None)


def running_epoch_of(pid: int) -> Callable[[list[FrozenTrial]], FrozenTrial | None]:
    """A predicate: the trial of worker ``pid`` in the middle of its training, with epochs reported."""

    def find(trials: list[FrozenTrial]) -> FrozenTrial | None:
        for t in trials:
            worker = str(t.user_attrs.get("worker", ""))
            if mid_training(t) and worker.endswith(f":{pid}"):
                return t
        return None

    return find


def finished(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    return [t for t in trials if t.state in FINISHED]


def assert_complete_study(trials: list[FrozenTrial], total: int) -> None:
    """Exactly ``total`` finished trials, each once, nothing left RUNNING."""
    ids = [t._trial_id for t in trials]
    assert len(ids) == len(set(ids)), f"a trial listed twice: {ids}"
    running = [t.number for t in trials if t.state == TrialState.RUNNING]
    assert not running, f"trials {running} were left RUNNING"
    states = {t.number: t.state.name for t in trials}
    assert len(finished(trials)) == total, f"{len(finished(trials))} finished, expected {total}: {states}"


def assert_clean_log(text: str, where: str) -> None:
    """No traceback and no unhandled storage error in a log."""
    for alarm in LOG_ALARMS:
        assert alarm not in text, f"{where} contains {alarm!r}:\n{text[-4000:]}"


class PrivatePostgres:
    """A PostgreSQL cluster of one test's own, which the test may stop and start at will.

    The machine-wide server is shared with other tests; this one lives in a temporary folder
    owned by the ``postgres`` user (the server refuses to run as root), listens on a free port
    and trusts every connection, so any password in the URL is accepted.
    """

    def __init__(self, port: int) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not bins:
            raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql; install postgresql")
        self.bin = bins[-1].parent
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="tempopt-pg-"))
        self.data = self.dir / "data"
        self._as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as_owner:
            shutil.chown(self.dir, "postgres", "postgres")
        self._pg("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-N")

    def url(self, password: str) -> str:
        return f"postgresql://postgres:{password}@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "server.log"), "-w", "start")

    def stop(self) -> None:
        """Stop at once: every client connection is cut, as in a crash or a restart."""
        self._pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)

    def _pg(self, program: str, *args: str) -> None:
        subprocess.run([*self._as_owner, str(self.bin / program), *args], check=True, capture_output=True, timeout=60)


def free_port() -> int:
    """A TCP port nobody listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
