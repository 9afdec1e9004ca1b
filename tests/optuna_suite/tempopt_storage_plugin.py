"""A pytest plugin that runs Optuna's own storage tests against tempopt's storage class.

Loaded with ``-p tempopt_storage_plugin`` into a run of the tests of Optuna's source distribution
(``python -m tests.optuna_suite`` fetches them and runs them so). It

* makes ``optuna.storages.RDBStorage`` tempopt's :class:`~tempopt.study.storage.sql_setup.TempoptStorage`:
  what Optuna's storage factory (``optuna.testing.storages.StorageSupplier``), its RDB tests and
  ``create_study(storage=URL)`` build is then tempopt's class, with tempopt's SQLite set-up;
* with ``--tempopt-server URL`` (a PostgreSQL or MariaDB server's), gives every RDB storage the factory
  makes a fresh database of its own on that server, dropped afterwards, and points
  ``TEST_DB_URL`` (Optuna's tests "with a server") at another one;
* deselects the parametrisations over Optuna's other storages (in memory, journal files, Redis),
  which never build an RDB storage, and those that repeat another (:data:`WRAPPERS`,
  :data:`THROUGH_A_STUDY`);
* skips each test in :data:`INAPPLICABLE` with its reason, and fails the run if an entry matches
  no test (the list cannot outlive the tests it names).

``--optuna-own-storage`` runs the same with Optuna's own ``RDBStorage``: a test that fails alike
there fails for the backend or the environment, not for tempopt.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import optuna
import optuna.storages
import optuna.testing.storages
import pytest
from sqlalchemy.engine import make_url

from tempopt.study.storage.opening import normalise_url
from tempopt.study.storage.sql_setup import TempoptStorage

OTHER_STORAGES = {"inmemory", "journal", "journal_redis", "grpc_journal_file"}
"""Storage modes of Optuna's factory that build no RDB storage (their parametrisations are deselected)."""

RDB_MODES = {"sqlite", "cached_sqlite", "grpc_rdb"}
"""Modes whose storage is an RDB storage: tempopt's, plain, under Optuna's cache, or behind its gRPC proxy."""

WRAPPERS = {"cached_sqlite", "grpc_rdb"}
"""Optuna's cache and gRPC proxy over the RDB storage: the same calls of it as plain, run on SQLite only
(on a server they would double the run's time and test no statement more)."""

THROUGH_A_STUDY = ("tests/study_tests/", "tests/trial_tests/")
"""Tests that reach the storage through a study, whose ``create_study`` wraps an RDB storage in Optuna's
cache itself: there ``cached_sqlite`` is ``sqlite`` again, and is deselected."""

DRIVER = (
    "hides the psycopg2 module to see Optuna's 'install a driver' error, but SQLAlchemy 2.1 connects "
    "postgresql:// with psycopg 3, which tempopt installs: it reaches for a host named 'host' instead "
    "(Optuna's own RDBStorage alike)"
)

MICROSECONDS = (
    "compares a trial's times to the microsecond, but Optuna's schema makes them DATETIME columns, which "
    "MariaDB and MySQL keep to the second: Optuna's own RDBStorage fails it alike (--optuna-own-storage)"
)

INAPPLICABLE: dict[str, dict[str, str]] = {
    "sqlite": {
        "tests/storages_tests/rdb_tests/test_storage.py::test_init_db_module_import_error": DRIVER,
    },
    "postgresql": {
        "tests/storages_tests/rdb_tests/test_storage.py::test_init_db_module_import_error": DRIVER,
    },
    "mysql": {
        "tests/storages_tests/rdb_tests/test_storage.py::test_init_db_module_import_error": DRIVER,
        "tests/storages_tests/test_grpc.py::test_set_and_get_trial_state_values"
        "[template_trial_utc-sqlite]": MICROSECONDS,
        "tests/storages_tests/test_grpc.py::test_set_and_get_trial_state_values"
        "[template_trial_utc_plus_9-sqlite]": MICROSECONDS,
        "tests/storages_tests/test_grpc.py::test_set_and_get_trial_state_values"
        "[template_trial_utc_minus_8-sqlite]": MICROSECONDS,
        "tests/storages_tests/test_storages.py::TestStorage::test_create_new_trial": MICROSECONDS,
        "tests/storages_tests/test_storages.py::TestStorage::test_create_new_trial_with_template_trial"
        "[sqlite-start_time0-complete_time0]": MICROSECONDS,
        "tests/storages_tests/test_storages.py::TestStorage::test_get_trial": MICROSECONDS,
        "tests/storages_tests/test_storages.py::TestStorage::test_get_all_trials": MICROSECONDS,
    },
}
"""Per backend: node id (a parametrised test's name without its ``[…]`` names them all) → why it cannot apply."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--tempopt-server",
        default=None,
        help="URL of a PostgreSQL or MariaDB server: Optuna's RDB storages get fresh databases there.",
    )
    parser.addoption(
        "--optuna-own-storage",
        action="store_true",
        help="Build Optuna's own RDBStorage, not tempopt's: is a failure tempopt's, or the suite's on this backend?",
    )


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("--optuna-own-storage"):
        optuna.storages.RDBStorage = TempoptStorage  # type: ignore[misc]  # what the factory and tests build
    server = config.getoption("--tempopt-server")
    if server:
        databases = ServerDatabases(server)
        config.stash[_DATABASES] = databases
        optuna.testing.storages.StorageSupplier = _server_supplier(databases)  # type: ignore[misc]
        os.environ["TEST_DB_URL"] = databases.create()


def pytest_unconfigure(config: pytest.Config) -> None:
    databases = config.stash.get(_DATABASES, None)
    if databases is not None:
        databases.drop_all()


def backend(config: pytest.Config) -> str:
    server = config.getoption("--tempopt-server")
    return make_url(normalise_url(server)).get_backend_name() if server else "sqlite"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    inapplicable = INAPPLICABLE[backend(config)]
    elsewhere = OTHER_STORAGES | (WRAPPERS if config.getoption("--tempopt-server") else set())
    matched: set[str] = set()
    kept, other = [], []
    for item in items:
        params = item.callspec.params.values() if hasattr(item, "callspec") else ()
        skip = elsewhere | ({"cached_sqlite"} if item.nodeid.startswith(THROUGH_A_STUDY) else set())
        if any(isinstance(value, str) and value in skip for value in params):
            other.append(item)
            continue
        kept.append(item)
        name = item.nodeid.split("[")[0]
        for key in (item.nodeid, name):
            if key in inapplicable:
                matched.add(key)
                item.add_marker(pytest.mark.skip(reason=f"inapplicable: {inapplicable[key]}"))
    items[:] = kept
    config.hook.pytest_deselected(items=other)
    files = {item.nodeid.split("::")[0] for item in items}
    unmatched = sorted(key for key in set(inapplicable) - matched if key.split("::")[0] in files)
    if unmatched and not (config.option.keyword or config.option.markexpr or config.getoption("--deselect")):
        raise pytest.UsageError(f"INAPPLICABLE names tests that were not collected: {unmatched}")


_DATABASES = pytest.StashKey["ServerDatabases"]()


class ServerDatabases:
    """Fresh databases on a PostgreSQL or MariaDB/MySQL server, each dropped on request or at the end."""

    def __init__(self, server: str) -> None:
        self.server = make_url(normalise_url(server))
        self.postgres = self.server.get_backend_name() == "postgresql"
        self.names: list[str] = []

    def _execute(self, statement: str) -> None:
        if self.postgres:
            import psycopg

            conninfo = self.server.set(drivername="postgresql").render_as_string(hide_password=False)
            with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
                conn.execute(statement)
            return
        import pymysql

        s = self.server
        conn = pymysql.connect(host=s.host, port=s.port or 3306, user=s.username, password=s.password or "")
        try:
            conn.cursor().execute(statement)
        finally:
            conn.close()

    def create(self) -> str:
        name = f"optuna_{uuid.uuid4().hex[:16]}"
        self._execute(f"CREATE DATABASE {name}")
        self.names.append(name)
        return self.server.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        self._execute(f"DROP DATABASE IF EXISTS {name}" + (" WITH (FORCE)" if self.postgres else ""))
        self.names.remove(name)

    def drop_all(self) -> None:
        for name in list(self.names):
            self.drop(self.server.set(database=name).render_as_string(hide_password=False))


def _server_supplier(databases: ServerDatabases) -> type[optuna.testing.storages.StorageSupplier]:
    """Optuna's storage factory, whose RDB storages (``optuna.storages.RDBStorage``: tempopt's, unless
    ``--optuna-own-storage``) live in fresh server databases."""
    base = optuna.testing.storages.StorageSupplier

    class ServerStorageSupplier(base):  # type: ignore[valid-type, misc]
        def __enter__(self) -> Any:
            if self.storage_specifier not in RDB_MODES:
                return super().__enter__()
            self.database_url = databases.create()
            if self.storage_specifier == "grpc_rdb":
                self.backend_storage = optuna.storages.RDBStorage(self.database_url)
                self.storage = self._create_proxy(self.backend_storage)
                return self.storage
            rdb = optuna.storages.RDBStorage(self.database_url, **self.extra_args)
            cached = self.storage_specifier == "cached_sqlite"
            self.storage = optuna.storages._CachedStorage(rdb) if cached else rdb
            return self.storage

        def __exit__(self, *exc: Any) -> None:
            super().__exit__(*exc)
            if getattr(self, "database_url", None):
                databases.drop(self.database_url)

    return ServerStorageSupplier
