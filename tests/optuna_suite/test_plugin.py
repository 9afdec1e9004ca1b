"""The plugin that runs Optuna's own storage tests against tempopt's storage, on a small tree of
tests laid out as Optuna's: what it builds, deselects and skips, and when it refuses to run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.optuna_suite.tempopt_storage_plugin import INAPPLICABLE

HERE = Path(__file__).resolve().parent
DRIVER_TEST = "tests/storages_tests/rdb_tests/test_storage.py::test_init_db_module_import_error"

FACTORY_TESTS = """
import pytest
import optuna
from optuna.testing.storages import StorageSupplier


@pytest.mark.parametrize("storage_mode", ["sqlite", "cached_sqlite", "inmemory", "journal"])
def test_the_factory_builds_tempopts_class(storage_mode):
    from tempopt.study.storage.sql_setup import TempoptStorage

    with StorageSupplier(storage_mode) as storage:
        rdb = getattr(storage, "_backend", storage)
        assert type(rdb) is TempoptStorage
        assert optuna.storages.RDBStorage is TempoptStorage
"""


def _tree(tmp_path: Path, driver_test: str | None) -> Path:
    """Optuna's layout: its pytest settings at the top (node ids start at ``tests/``), the tests below."""
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\naddopts = '--color=no'\n")
    (tmp_path / "tests" / "storages_tests" / "rdb_tests").mkdir(parents=True)
    (tmp_path / "tests" / "storages_tests" / "test_factory.py").write_text(FACTORY_TESTS)
    body = "" if driver_test is None else f"def {driver_test}():\n    raise AssertionError('never run')\n"
    (tmp_path / "tests" / "storages_tests" / "rdb_tests" / "test_storage.py").write_text(
        f"def test_something_else():\n    pass\n\n\n{body}"
    )
    return tmp_path


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(HERE), "TZ": "Asia/Tokyo"}
    command = [sys.executable, "-m", "pytest", "-p", "tempopt_storage_plugin", "-rs", "-p", "no:cacheprovider", *args]
    return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=300)


def test_rdb_modes_build_tempopts_class_others_are_deselected_and_the_inapplicable_skipped(tmp_path):
    run = _pytest(_tree(tmp_path, "test_init_db_module_import_error"), "tests")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed, 1 skipped, 2 deselected" in run.stdout  # (inmemory, journal) deselected
    assert f"inapplicable: {INAPPLICABLE['sqlite'][DRIVER_TEST][:40]}" in run.stdout


def test_an_inapplicable_entry_that_names_no_test_stops_the_run(tmp_path):
    run = _pytest(_tree(tmp_path, None), "tests")
    assert run.returncode != 0
    assert "INAPPLICABLE names tests that were not collected" in run.stdout + run.stderr


def test_every_backend_lists_its_entries_by_node_id_with_a_reason():
    for backend, entries in INAPPLICABLE.items():
        assert backend in ("sqlite", "postgresql", "mysql")
        for node, reason in entries.items():
            assert node.startswith("tests/") and "::" in node and len(reason) > 40, (backend, node)
