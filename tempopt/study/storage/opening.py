"""Opening the SQL storage a study lives in: SQLite by default, PostgreSQL or MariaDB/MySQL.

URLs are normalised to the drivers tempopt installs (psycopg 3, PyMySQL), the storage is
:class:`~tempopt.study.storage.sql_setup.TempoptStorage` (server databases get ``pool_pre_ping`` and
bounded pools, SQLite gets WAL and a long busy timeout), and connection or schema problems
become one :class:`StorageError` sentence. Passwords never leave this module
unmasked: use :func:`redact_url` for anything shown or saved.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy.exc
from sqlalchemy.engine import URL, make_url

from tempopt.errors import StorageError
from tempopt.stopping import Interrupted, pause
from tempopt.study.spec.defaults import DEFAULT_STORAGE
from tempopt.study.storage.faults import NO_TABLES, lasting_fault
from tempopt.study.storage.sql_setup import TempoptStorage, is_in_memory
from tempopt.study.storage.userinfo import check_userinfo, redact_secrets, redact_url, remember_secrets

log = logging.getLogger(__name__)

DEFAULT_HEARTBEAT_INTERVAL = 60
DEFAULT_GRACE_PERIOD = 300
DEFAULT_MAX_RETRY = 3
CONNECT_PATIENCE = 5.0
_DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
}


_SHIPPED = {"postgresql": "psycopg", "mysql": "PyMySQL"}
_PACKAGES = {  # a driver's module -> the package that installs it, where the names differ
    "MySQLdb": "mysqlclient",
    "psycopg2": "psycopg2-binary",
    "mysql": "mysql-connector-python",
    "sqlcipher3": "sqlcipher3-binary",
}


@dataclass(frozen=True)
class FailureHandling:
    """Heartbeats and retries of trials whose worker died (RDB server storages only)."""

    heartbeat_interval: int | None = DEFAULT_HEARTBEAT_INTERVAL
    grace_period: int | None = DEFAULT_GRACE_PERIOD
    max_retry: int = DEFAULT_MAX_RETRY


def normalise_url(url: str) -> str:
    """Map ``postgresql://``, ``mysql://`` and ``mariadb://`` to the drivers tempopt ships.

    Raises:
        SpecError: the user name or password holds a raw ``@``, ``/``, ``?`` or ``#``.
        StorageError: not a database URL, or a backend tempopt does not support.
    """
    if url.lower().startswith("grpc://"):  # Optuna's gRPC storage proxy, see tempopt.study.storage.grpc_client
        return url
    check_userinfo(url, redact_url(url))  # before anything reads the URL
    remember_secrets(url)
    try:
        parsed = make_url(url)
        parsed.port  # noqa: B018 - a port that is not a number raises only when read
    except (sqlalchemy.exc.ArgumentError, ValueError) as e:
        raise StorageError(
            f"storage {redact_url(url)!r} is not a database URL; use e.g. sqlite:///tempopt.db or "
            "postgresql://user@host/db."
        ) from e
    backend = parsed.get_backend_name()
    if parsed.drivername in _DRIVERS:
        parsed = parsed.set(drivername=_DRIVERS[parsed.drivername])
    elif backend not in ("sqlite", "postgresql", "mysql"):
        raise StorageError(f"storage backend {backend!r} is not supported; use sqlite, postgresql or mysql.")
    _check_driver(parsed, parsed.get_backend_name())
    return parsed.render_as_string(hide_password=False)


def _check_driver(parsed: URL, backend: str) -> None:
    """Refuse a driver that SQLAlchemy does not know, that is asynchronous, or that is not installed."""
    instead = "use sqlite:///PATH"
    if backend != "sqlite":
        instead = f"use {backend}:// (tempopt installs its driver, {_SHIPPED[backend]})"
    try:
        dialect = parsed.get_dialect()
    except sqlalchemy.exc.NoSuchModuleError as e:
        raise StorageError(f"storage driver {parsed.drivername!r} is not one SQLAlchemy knows; {instead}.") from e
    if getattr(dialect, "is_async", False):
        raise StorageError(
            f"storage driver {parsed.drivername!r} is asynchronous, and tempopt's storage calls the database "
            f"synchronously; {instead}."
        )
    try:
        dialect.import_dbapi()
    except ImportError as e:
        module = e.name or str(dialect.driver)
        package = _PACKAGES.get(module, module)
        raise StorageError(
            f"storage driver {parsed.drivername!r} needs the Python package {package!r}, which is not installed; "
            f"pip install {package}, or {instead}."
        ) from e


def is_sqlite(url: str) -> bool:
    """True for SQLite URLs."""
    return make_url(normalise_url(url)).get_backend_name() == "sqlite"


def open_storage(
    url: str = DEFAULT_STORAGE,
    failure: FailureHandling | None = None,
    attempts: int = 8,
    patience: float = CONNECT_PATIENCE,
) -> optuna.storages.BaseStorage:
    """An Optuna RDB storage for ``url``, with failure handling on server databases.

    Several processes creating the schema of an empty database at once can collide (a unique
    violation on PostgreSQL); those collisions are retried with jittered back-off.

    Args:
        url: a SQLAlchemy URL. ``sqlite:///path`` creates the file.
        failure: heartbeat and retry settings; defaults to :class:`FailureHandling`().
            SQLite gets them too when given explicitly.
        attempts: tries before a schema race is reported.
        patience: seconds to keep trying to reach a database that refuses connections.

    Raises:
        StorageError: unreachable database, unsupported or in-memory URL, or an old schema.
    """
    if url.lower().startswith("grpc://"):
        from tempopt.study.storage.grpc_client import open_grpc_storage  # optuna's gRPC client: for grpc:// only

        return open_grpc_storage(url)
    shown = redact_url(url)
    url = normalise_url(url)
    sqlite = make_url(url).get_backend_name() == "sqlite"
    if is_in_memory(url):
        raise StorageError(
            f"{shown} is a database that only the thread which opened it can see, and a study is shared by "
            "tempopt's threads and workers; pass --storage with a file, e.g. sqlite:///tempopt.db."
        )
    if failure is None:
        failure = FailureHandling() if not sqlite else FailureHandling(None, None, 0)
    kwargs: dict[str, Any] = {}
    with warnings.catch_warnings():  # heartbeats and their retry callback are "experimental"
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if failure.heartbeat_interval:
            kwargs["heartbeat_interval"] = failure.heartbeat_interval
            kwargs["grace_period"] = failure.grace_period
            kwargs["heartbeat_stale_trial_callback"] = optuna.storages.RetryHeartbeatStaleTrialCallback(
                max_retry=failure.max_retry
            )
        try:
            return _with_retries(lambda: TempoptStorage(url, **kwargs), shown, attempts, patience)
        except (OSError, sqlite3.Error) as e:  # its file or folder, before the engine opens it
            raise StorageError(
                f"cannot open the SQLite database {shown} ({getattr(e, 'strerror', None) or e}); "
                "pass --storage with a path in a writable folder."
            ) from e


def _with_retries(
    make: Callable[[], optuna.storages.RDBStorage], shown: str, attempts: int, patience: float
) -> optuna.storages.RDBStorage:
    deadline = time.monotonic() + patience
    delay = 0.2
    for attempt in range(1, attempts + 1):
        try:
            return make()
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError) as e:
            # another process created the same table, type or row at the same moment
            _raise_lasting(e, shown)
            if attempt == attempts:
                raise StorageError(
                    f"the tables of {shown} could not be created ({describe_error(e)}); run the same command again."
                ) from e
        except sqlalchemy.exc.OperationalError as e:  # refused, timed out, or a MySQL DDL race
            _raise_lasting(e, shown)
            if attempt == attempts or time.monotonic() >= deadline:
                raise StorageError(
                    f"cannot reach the storage {shown} ({describe_error(e)}); "
                    "check that the database server is running and the URL is right."
                ) from e
        except RuntimeError as e:
            if "upgrade" in str(e).lower():
                raise StorageError(
                    f"the schema of {shown} is older than this Optuna; run "
                    f"`optuna storage upgrade --storage URL` first."
                ) from e
            raise
        signum = pause(delay * (1 + random.random()))
        if signum is not None:
            raise Interrupted(signum, f"while opening the storage {shown}")
        delay = min(delay * 2, 2.0)
        log.info("retrying storage %s (attempt %d/%d)", shown, attempt + 1, attempts)
    raise AssertionError("unreachable")


def _raise_lasting(e: BaseException, shown: str) -> None:
    """Raise at once for a fault no retry fixes (missing tables excepted: they are being created here)."""
    fault = lasting_fault(e)
    if fault is not None and fault is not NO_TABLES:
        raise StorageError(f"cannot open the storage {shown}: {fault.cause} ({describe_error(e)}); {fault.fix}.") from e


def describe_error(e: BaseException) -> str:
    """The first line of a database error's own message (Optuna's and SQLAlchemy's wrappers removed),
    with every password of a storage this process opened masked."""
    if isinstance(e, optuna.exceptions.StorageInternalError) and e.__cause__ is not None:
        e = e.__cause__
    orig = getattr(e, "orig", None) or e
    args: tuple[Any, ...] = getattr(orig, "args", ())
    if len(args) == 2 and isinstance(args[0], int):  # PyMySQL: (code, message)
        text = f"{args[1]} [{args[0]}]"
    else:
        text = str(orig)
    lines = text.strip().splitlines()
    return redact_secrets(lines[0]) if lines else type(orig).__name__


def require_existing(url: str) -> None:
    """Refuse a SQLite URL whose file does not exist (opening it would create an empty one).

    Raises:
        StorageError: the SQLite file is missing, or the URL is an in-memory database.
    """
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite":
        return
    if is_in_memory(parsed):
        raise StorageError(
            f"{redact_url(url)} is a database in one process's memory, gone when it ended; "
            "pass --storage with the file or server the study was run with."
        )
    if not parsed.database or not Path(parsed.database).is_file():
        raise StorageError(
            f"there is no study database at {redact_url(url)}; pass --storage with the URL the study was run with."
        )


def sqlite_identity(url: str) -> tuple[int, int] | None:
    """The device and inode of a SQLite storage's file (None for a server database or no file)."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite" or is_in_memory(parsed) or not parsed.database:
        return None
    try:
        st = Path(parsed.database).stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def check_still_there(url: str, identity: tuple[int, int] | None) -> None:
    """Refuse to report success when the SQLite file a command wrote to was deleted or replaced
    meanwhile (SQLite goes on writing to a deleted file: every result went nowhere).

    Raises:
        StorageError: the file is gone or another file stands at its path.
    """
    if identity is not None and sqlite_identity(url) != identity:
        raise StorageError(
            f"the SQLite database {redact_url(url)} was deleted or replaced while the command ran, so what it "
            "wrote is lost; keep the file in place and run the same command again."
        )


def open_existing_storage(url: str = DEFAULT_STORAGE) -> optuna.storages.BaseStorage:
    """Open a storage that must already exist (for reading commands).

    Raises:
        StorageError: no such SQLite file, or the database is unreachable.
    """
    require_existing(url)
    return open_storage(url)


def load_study(name: str, url: str = DEFAULT_STORAGE) -> optuna.Study:
    """Load an existing study, with the list of known names in the error if it is missing.

    Raises:
        StorageError: no such storage or study, or the storage is unreachable.
    """
    storage = open_existing_storage(url)
    names = [s.study_name for s in storage.get_all_studies()]
    if name not in names:
        known = ", ".join(names) if names else "none"
        raise StorageError(f"no study named {name!r} in {redact_url(url)} (studies there: {known}).")
    return optuna.load_study(study_name=name, storage=storage)
