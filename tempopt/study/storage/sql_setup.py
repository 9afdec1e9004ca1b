"""The storage class tempopt opens, and how it sets up the SQL engine under it.

:class:`TempoptStorage` is Optuna's RDB storage with tempopt's own statements
(:class:`AtomicClaimStorage`) on an engine set up for several workers: server databases get
``pool_pre_ping`` and bounded pools; SQLite gets WAL (readers don't block the writer),
``synchronous=NORMAL`` on every connection and a long busy timeout. ``sqlite:///:memory:`` is, as
in Optuna, a database for each thread that lives as long as its connection (the storage never
closes it); :func:`tempopt.study.storage.opening.open_storage` refuses it, since tempopt's workers,
heartbeats and gRPC proxy share a study across threads and processes.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url

from tempopt.study.optuna_internals import AtomicClaimStorage

SQLITE_BUSY_TIMEOUT = 120
"""Seconds a SQLite connection waits for another worker's write lock before it fails."""


def engine_kwargs(url: str) -> dict[str, Any]:
    """SQLAlchemy engine options for a storage URL."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT}}
    kwargs: dict[str, Any] = {
        "pool_pre_ping": True,  # a connection dropped by a server restart is replaced, not used
        "pool_size": 2,
        "max_overflow": 4,
        "connect_args": {"connect_timeout": 10},
    }
    if backend == "mysql":
        kwargs["pool_recycle"] = 3600  # below MySQL's wait_timeout
    return kwargs


def is_in_memory(url: str | URL) -> bool:
    """True for a SQLite database that lives in memory (``sqlite://``, ``sqlite:///:memory:``)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return False
    return parsed.database in (None, "", ":memory:") or parsed.query.get("mode") == "memory"


class TempoptStorage(AtomicClaimStorage):
    """Optuna's RDB storage as tempopt opens it: its arguments are ``RDBStorage``'s, and the
    ``engine_kwargs`` given are laid over :func:`engine_kwargs` (``connect_args`` key by key).

    A SQLite file is switched to WAL and its folder created before the engine opens it.
    """

    def __init__(self, url: str, engine_kwargs: dict[str, Any] | None = None, *args: Any, **kwargs: Any) -> None:
        if make_url(url).get_backend_name() == "sqlite":
            prepare_sqlite_file(url)
        super().__init__(url, _merged(url, engine_kwargs or {}), *args, **kwargs)
        self._set_up_connections()

    def __setstate__(self, state: dict[Any, Any]) -> None:  # unpickled: a new engine, set up again
        super().__setstate__(state)
        self._set_up_connections()

    def _set_up_connections(self) -> None:
        url = self.engine.url
        if url.get_backend_name() != "sqlite" or is_in_memory(url):
            return  # in memory: no sync to save, and closing its connection would drop the tables
        event.listen(self.engine, "connect", _sqlite_session_pragmas)
        self.engine.dispose()  # the connections that created and checked the tables lack the pragma


def _merged(url: str, given: dict[str, Any]) -> dict[str, Any]:
    defaults = engine_kwargs(url)
    connect_args = {**defaults.get("connect_args", {}), **given.get("connect_args", {})}
    return {**defaults, **given, "connect_args": connect_args}


def _sqlite_session_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """``synchronous=NORMAL`` on every SQLite connection: in WAL mode a commit then syncs nothing
    to disk until a checkpoint (a commit is ~3 ms cheaper here). A killed process loses nothing;
    only a power loss or an OS crash can roll back the last commits, never corrupt the file."""
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def prepare_sqlite_file(url: str) -> None:
    """Create the SQLite file's folder and switch it to WAL, so readers don't block the writer.

    Raises:
        OSError, sqlite3.Error: the folder or the file cannot be written.
    """
    database = make_url(url).database
    if is_in_memory(url) or not database:
        return
    path = Path(database)
    if path.is_file() and not os.access(path, os.W_OK):
        return  # a read-only file is only read: no WAL switch (a write), and no folder to make
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()
