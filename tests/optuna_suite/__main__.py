"""Optuna's own storage tests against tempopt's storage class: ``python -m tests.optuna_suite``.

Fetches the source distribution of the installed Optuna version from the package index (``pip
download``; nothing of Optuna's is kept in this repository), unpacks its tests into a temporary
folder and runs its storage tests, and the study and trial tests that go through a storage, with
``tempopt_storage_plugin`` (beside this file): on SQLite and on PostgreSQL side by side, each
under a time zone away from UTC. Exits 1 if any test fails, outside those the plugin lists as
inapplicable.

    python -m tests.optuna_suite                       # both backends, as .ci/run runs it
    python -m tests.optuna_suite --backend sqlite -- -k heartbeat   # one backend, pytest options after --
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SERVERS = {
    "postgresql": os.environ.get("TEMPOPT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"),
    "mariadb": os.environ.get("TEMPOPT_TEST_MARIADB", "mysql://root@127.0.0.1:3306/test"),
}
TESTS = ["tests/storages_tests", "tests/study_tests", "tests/trial_tests"]
IGNORED = ["tests/storages_tests/journal_tests"]  # Optuna's journal storage, which is never an RDB storage
TIME_ZONES = {"sqlite": "America/Los_Angeles", "postgresql": "Asia/Tokyo", "mariadb": "Asia/Kolkata"}
CI = ["sqlite", "postgresql"]  # what --backend all (the default, and .ci/run) runs


def fetch_tests(version: str, into: Path) -> Path:
    """Download Optuna ``version``'s source distribution and unpack its tests (and its pytest
    settings) into ``into``; returns the folder to run pytest in. Optuna's own package is left
    out, so that the tests import the installed one."""
    command = [sys.executable, "-m", "pip", "download", f"optuna=={version}"]
    command += ["--no-binary", ":all:", "--no-deps", "--quiet", "--dest", str(into)]
    subprocess.run(command, check=True)
    (archive,) = into.glob("optuna-*.tar.gz")
    root = f"optuna-{version}"
    with tarfile.open(archive) as tar:
        wanted = (f"{root}/tests/", f"{root}/pyproject.toml")
        members = [m for m in tar.getmembers() if m.name.startswith(wanted)]
        tar.extractall(into, members=members, filter="data")
    return into / root


class BackendRun:
    """One backend's pytest run, started at once, its output in a log file of ``folder``."""

    def __init__(self, backend: str, folder: Path, pytest_args: list[str]) -> None:
        self.backend = backend
        env = {**os.environ, "TZ": TIME_ZONES[backend], "PYTHONPATH": str(HERE)}
        command = [sys.executable, "-m", "pytest", "-p", "tempopt_storage_plugin", *TESTS]
        command += [f"--ignore={path}" for path in IGNORED]
        command += ["-q", "-rfEs", "--color=no", "-p", "no:cacheprovider", "-p", "no:warnings", "--timeout=300"]
        if backend == "sqlite":
            env["TEST_DB_URL"] = f"sqlite:///{folder / 'with_server.db'}"  # Optuna's tests "with a server"
        else:
            command += ["--tempopt-server", SERVERS[backend]]
        self.title = f"{backend} (TZ={env['TZ']})"
        self.log = folder / f"{backend}.log"
        self.start, self.seconds = time.monotonic(), 0.0
        with self.log.open("w") as out:
            self.process = subprocess.Popen([*command, *pytest_args], cwd=folder, env=env, stdout=out, stderr=out)

    def done(self) -> bool:
        """Whether the run has ended (the first call that sees it so notes its time)."""
        if self.process.poll() is None:
            return False
        self.seconds = self.seconds or time.monotonic() - self.start
        return True

    def finish(self) -> tuple[int, str]:
        """Print the ended run's output; returns pytest's exit code and a line with its counts and time."""
        code, seconds = self.process.returncode, self.seconds
        text = self.log.read_text()
        print(f"== Optuna's storage tests on {self.title}", flush=True)
        print(text, end="", flush=True)
        lines = [line for line in text.splitlines() if line.strip()]
        closing = lines[-1].strip("= ") if lines else "no output"
        return code, f"{self.title}: {closing}; {seconds:.0f} s in all"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.optuna_suite", description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=[*TIME_ZONES, "all"], default="all")
    parser.add_argument("pytest_args", nargs="*", help="more pytest options, after --")
    args = parser.parse_args(argv)
    version = importlib.metadata.version("optuna")
    backends = CI if args.backend == "all" else [args.backend]
    with tempfile.TemporaryDirectory(prefix="optuna-suite-") as tmp:
        folder = fetch_tests(version, Path(tmp))
        # side by side: most of the time is Optuna's heartbeat tests sleeping, little is CPU
        runs = [BackendRun(backend, folder, args.pytest_args) for backend in backends]
        while not all([run.done() for run in runs]):  # (a list: every run's end time is noted)
            time.sleep(0.5)
        results = [run.finish() for run in runs]
    print(f"== Optuna {version}'s storage tests against tempopt's storage")
    for _, line in results:
        print(line)
    failed = [line for code, line in results if code != 0]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
