"""The storage retry loop retries only what a retry can fix; a signal ends its wait."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
import uuid

import pytest
import sqlalchemy
import sqlalchemy.exc

from tempopt.errors import StorageError
from tempopt.stopping import Interrupted, StopFlag
from tempopt.study.storage.faults import DISK_FULL, NO_TABLES, READ_ONLY, lasting_fault
from tempopt.study.storage.opening import open_storage
from tempopt.study.storage.retries import retrying
from tests.workers.harness import POSTGRES_ADMIN, fresh_database


def _engine(path, **connect_args):
    return sqlalchemy.create_engine(f"sqlite:///{path}", connect_args=connect_args)


def _full(path):  # a database that may not grow: SQLite's own "database or disk is full"
    engine = _engine(path)
    with engine.begin() as c:
        c.exec_driver_sql("CREATE TABLE t (x BLOB)")

    def write():
        with engine.begin() as c:
            c.exec_driver_sql("PRAGMA max_page_count = 2")
            c.exec_driver_sql("INSERT INTO t VALUES (zeroblob(100000))")

    return write


def _read_only(path):
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (x)")
    engine = sqlalchemy.create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")

    def write():
        with engine.begin() as c:
            c.exec_driver_sql("INSERT INTO t VALUES (1)")

    return write


def _no_tables(path):
    engine = _engine(path)

    def read():
        with engine.begin() as c:
            c.exec_driver_sql("SELECT * FROM trials")

    return read


@pytest.mark.parametrize(
    ("make", "fault", "words"),
    [
        (_full, DISK_FULL, "the disk holding the database is full while recording trial 3"),
        (_read_only, READ_ONLY, "the database is read-only while recording trial 3"),
        (_no_tables, NO_TABLES, "the database lacks Optuna's tables (dropped?) while recording trial 3"),
    ],
)
def test_a_fault_no_retry_fixes_is_one_sentence_at_once(tmp_path, make, fault, words):
    call = make(tmp_path / "study.db")
    with pytest.raises(sqlalchemy.exc.OperationalError) as raw:
        call()
    assert lasting_fault(raw.value) is fault
    start = time.monotonic()
    with pytest.raises(StorageError) as info:
        retrying(call, "recording trial 3", patience=60)
    assert time.monotonic() - start < 1.0
    assert str(info.value).startswith(words) and str(info.value).endswith(f"; {fault.fix}.")


def test_a_lost_connection_is_still_retried():
    refused = sqlalchemy.create_engine("postgresql+psycopg://u@127.0.0.1:1/db", connect_args={"connect_timeout": 1})
    with pytest.raises(sqlalchemy.exc.OperationalError) as raw:
        refused.connect()
    assert lasting_fault(raw.value) is None


def test_sigterm_ends_the_wait_for_an_unreachable_database_at_once():
    refused = sqlalchemy.create_engine("postgresql+psycopg://u@127.0.0.1:1/db", connect_args={"connect_timeout": 1})
    threading.Timer(1.0, os.kill, args=(os.getpid(), signal.SIGTERM)).start()
    start = time.monotonic()
    with StopFlag().installed(), pytest.raises(Interrupted) as info:
        retrying(refused.connect, "starting a trial", patience=60)
    assert time.monotonic() - start < 3.0
    assert info.value.exit_code == 143
    assert str(info.value) == (
        "stopped by SIGTERM while starting a trial (the database was unreachable); run the same command again "
        "to resume."
    )


@pytest.mark.integration
def test_a_missing_privilege_is_one_sentence_at_once_not_eight_retries(tmp_path):
    import psycopg
    from sqlalchemy.engine import make_url

    role = f"r_{uuid.uuid4().hex[:12]}"
    admin = make_url(POSTGRES_ADMIN).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        with fresh_database("postgresql", tmp_path) as url:
            owner = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
            with psycopg.connect(owner, autocommit=True) as db:
                db.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")  # the role may connect, not create
            start = time.monotonic()
            with pytest.raises(StorageError) as info:
                open_storage(make_url(url).set(username=role).render_as_string(hide_password=False))
            assert time.monotonic() - start < 3.0
            message = str(info.value)
            assert ": the database user lacks a privilege tempopt needs (permission denied for schema public" in message
            assert message.endswith("or use another user.")
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')
