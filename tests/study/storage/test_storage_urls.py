"""Storage URLs: drivers, masked passwords, engine options, and what a bad URL says."""

from __future__ import annotations

import pickle
import socket
import sqlite3

import optuna
import pytest
import sqlalchemy.exc

from tempopt.errors import StorageError
from tempopt.study.storage.opening import (
    FailureHandling,
    describe_error,
    is_sqlite,
    normalise_url,
    open_existing_storage,
    open_storage,
    redact_url,
)
from tempopt.study.storage.sql_setup import TempoptStorage, engine_kwargs


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:pw@db:5432/x", "postgresql+psycopg://u:pw@db:5432/x"),
        ("postgres://u@db/x", "postgresql+psycopg://u@db/x"),
        ("mysql://root@127.0.0.1:3306/x", "mysql+pymysql://root@127.0.0.1:3306/x"),
        ("mariadb://root@127.0.0.1/x", "mysql+pymysql://root@127.0.0.1/x"),
        ("postgresql+psycopg://u@db/x", "postgresql+psycopg://u@db/x"),  # explicit drivers are kept
        ("mysql+pymysql://u@db/x", "mysql+pymysql://u@db/x"),
        ("sqlite:///tempopt.db", "sqlite:///tempopt.db"),
        ("sqlite:////abs/path/study.db", "sqlite:////abs/path/study.db"),
    ],
)
def test_urls_are_mapped_to_the_drivers_tempopt_installs(url, expected):
    assert normalise_url(url) == expected


def test_a_percent_encoded_password_survives_normalisation():
    assert normalise_url("mysql://u:p%40ss@db/x") == "mysql+pymysql://u:p%40ss@db/x"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql//u:hunter2@db/x",  # no colon after the scheme: not a URL at all
        "postgresql://u:hunter2@db:notaport/x",  # a port that is not a number
        "oracle://u:hunter2@db/x",  # a backend tempopt does not support
    ],
)
def test_a_bad_url_is_one_sentence_without_the_password(url):
    with pytest.raises(StorageError) as info:
        normalise_url(url)
    message = str(info.value)
    assert "hunter2" not in message
    assert message.endswith(".") and message.count("; ") == 1  # what is wrong; what to do
    assert info.value.exit_code == 3


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:hunter2@db:5432/x", "postgresql://u:***@db:5432/x"),
        ("mysql+pymysql://root:hunter2@127.0.0.1/x", "mysql+pymysql://root:***@127.0.0.1/x"),
        ("postgresql://u:hun@ter2@db/x", "postgresql://u:***@db/x"),  # an unescaped @ in the password
        ("postgresql//u:hunter2@db/x", "postgresql//u:***@db/x"),  # malformed, masked all the same
        ("postgresql://u@db/x", "postgresql://u@db/x"),  # nothing to mask
        ("postgresql://db:5432/x", "postgresql://db:5432/x"),  # a port is not a password
        ("sqlite:////tmp/study.db", "sqlite:////tmp/study.db"),
    ],
)
def test_redaction_masks_the_password_and_keeps_the_rest(url, expected):
    assert redact_url(url) == expected


PG = "postgresql://postgres@127.0.0.1:5432/db"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"{PG}?password=Qz1Qz2", f"{PG}?password=***"),
        (f"{PG}?passwd=Qz1Qz2", f"{PG}?passwd=***"),
        (f"{PG}?pwd=Qz1Qz2", f"{PG}?pwd=***"),
        (f"{PG}?sslpassword=Qz1Qz2", f"{PG}?sslpassword=***"),
        (f"{PG}?sslkey=/keys/Qz1Qz2.key", f"{PG}?sslkey=***"),  # a key file's path tells where the key is
        (f"{PG}?token=Qz1Qz2", f"{PG}?token=***"),
        (f"{PG}?secret=Qz1Qz2", f"{PG}?secret=***"),
        (f"{PG}?api_key=Qz1Qz2", f"{PG}?api_key=***"),
        (f"{PG}?access_token=Qz1Qz2", f"{PG}?access_token=***"),
        (f"{PG}?client_secret=Qz1Qz2", f"{PG}?client_secret=***"),
        (f"{PG}?PassWord=Qz1Qz2", f"{PG}?PassWord=***"),  # keys match whatever their case
        (f"{PG}?SSLPASSWORD=Qz1Qz2", f"{PG}?SSLPASSWORD=***"),
        (f"{PG}?pass%77ord=Qz1Qz2", f"{PG}?pass%77ord=***"),  # SQLAlchemy decodes the key to "password"
        (f"{PG}?password=Qz1%26Qz%40Qz2%25", f"{PG}?password=***"),  # an encoded value is masked whole
        (f"{PG}?password=Qz1@Qz2", f"{PG}?password=***"),  # an unescaped @ in a query password
        (f"{PG}?password=Qz1&Qz2&sslmode=require", f"{PG}?password=***&sslmode=require"),  # a raw & in it
        (f"{PG}?password=Qz1#Qz2", f"{PG}?password=***"),  # a raw # is no fragment here
        (
            f"{PG}?sslmode=require&password=Qz1Qz2&connect_timeout=10",
            f"{PG}?sslmode=require&password=***&connect_timeout=10",
        ),
        (
            f"{PG}?sslmode=verify-full&sslcert=/c/client.crt&sslkey=/c/Qz1Qz2.key&sslpassword=Qz1Qz2",
            f"{PG}?sslmode=verify-full&sslcert=/c/client.crt&sslkey=***&sslpassword=***",  # a cert is public
        ),
        (
            "postgresql://u:Qz1Qz2@db:5432/x?sslmode=require&sslpassword=Qz1Qz2",
            "postgresql://u:***@db:5432/x?sslmode=require&sslpassword=***",
        ),
        ("postgresql://u:Qz1@Qz2@db/x?password=Qz1@Qz2", "postgresql://u:***@db/x?password=***"),
        ("postgresql://db:5432/x?password=Qz1@Qz2", "postgresql://db:5432/x?password=***"),  # no user at all
        ("postgresql://u:Qz1?Qz2@db/x", "postgresql://u:***@db/x"),  # an unescaped ? in the password
        ("postgresql://u:Qz1?token=Qz2@db/x", "postgresql://u:***"),  # ... that even looks like a query
        (
            "postgresql+psycopg://u@db/x?options=-c%20a%3Db?password=Qz1Qz2",
            "postgresql+psycopg://u@db/x?options=-c%20a%3Db?password=***",
        ),
        (
            "mysql+pymysql://root@127.0.0.1:3306/x?charset=utf8mb4&password=Qz1Qz2",
            "mysql+pymysql://root@127.0.0.1:3306/x?charset=utf8mb4&password=***",
        ),
        ("grpc://127.0.0.1:13000?token=Qz1Qz2", "grpc://127.0.0.1:13000?token=***"),
        ("grpc://u:Qz1Qz2@127.0.0.1:13000", "grpc://u:***@127.0.0.1:13000"),
        ("postgresql//u@db/x?password=Qz1Qz2", "postgresql//u@db/x?password=***"),  # malformed: no ":" after the scheme
        ("postgresql://u@db:notaport/x?password=Qz1Qz2", "postgresql://u@db:notaport/x?password=***"),
        ("u:Qz1Qz2@db/x?token=Qz1Qz2", "u:***@db/x?token=***"),  # no scheme at all
        ("postgresql://u@db/x?password=", "postgresql://u@db/x?password="),  # nothing to mask
        ("sqlite:////data/password/study.db", "sqlite:////data/password/study.db"),  # only a folder's name
        ("sqlite:////data/password=x/token.db?mode=ro", "sqlite:////data/password=x/token.db?mode=ro"),
        (
            "sqlite:///file:/data/passwords/study.db?mode=ro&password=Qz1Qz2&uri=true",
            "sqlite:///file:/data/passwords/study.db?mode=ro&password=***&uri=true",
        ),
    ],
)
def test_redaction_masks_every_credential_and_keeps_the_rest(url, expected):
    shown = redact_url(url)
    assert shown == expected
    assert "Qz" not in shown  # no piece of the secret, whatever it holds


@pytest.mark.parametrize(
    "url",
    [
        f"{PG}?sslmode=require&connect_timeout=10&application_name=tempopt",
        "postgresql://u@db:5432/x?keepalives=1&target_session_attrs=read-write&sslrootcert=/c/ca.crt",
        "mysql+pymysql://root@127.0.0.1:3306/x?charset=utf8mb4",
        "sqlite:///file:/data/study.db?mode=ro&uri=true",
    ],
)
def test_harmless_query_parameters_are_left_alone(url):
    assert redact_url(url) == url


def test_an_at_sign_in_a_harmless_value_may_hide_the_host_but_never_the_password():
    # "everything up to the last @" is the password when the text is ambiguous
    shown = redact_url("postgresql://u:Qz1Qz2@db/x?application_name=me@box")
    assert "Qz1Qz2" not in shown and shown.startswith("postgresql://u:***@")


@pytest.mark.parametrize("url", ["postgresql+psycopg://u@db/x", "mysql+pymysql://u@db/x"])
def test_server_databases_ping_pooled_connections_and_time_out(url):
    kwargs = engine_kwargs(url)
    assert kwargs["pool_pre_ping"] is True  # a connection cut by a server restart is replaced
    assert kwargs["connect_args"] == {"connect_timeout": 10}
    assert kwargs["pool_size"] + kwargs["max_overflow"] <= 8  # many workers, one server
    assert ("pool_recycle" in kwargs) == url.startswith("mysql")


def test_sqlite_waits_for_the_write_lock_instead_of_failing():
    kwargs = engine_kwargs("sqlite:///x.db")
    assert kwargs == {"connect_args": {"timeout": 120}}


def test_is_sqlite():
    assert is_sqlite("sqlite:///x.db")
    assert not is_sqlite("postgresql://u@db/x")
    assert not is_sqlite("mariadb://u@db/x")


def test_sqlite_storage_is_created_in_wal_mode(tmp_path):
    path = tmp_path / "sub" / "study.db"
    storage = open_storage(f"sqlite:///{path}")
    assert path.exists()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # readers don't block the writer
    assert storage.heartbeat_interval is None  # one process on SQLite by default: no heartbeat


def test_failure_handling_given_explicitly_applies_to_sqlite_too(tmp_path):
    storage = open_storage(f"sqlite:///{tmp_path / 's.db'}", FailureHandling(2, 7, 1))
    assert (storage.heartbeat_interval, storage.grace_period) == (2, 7)
    callback = storage.get_heartbeat_stale_trial_callback()
    assert isinstance(callback, optuna.storages.RetryHeartbeatStaleTrialCallback)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("scheme", ["postgresql", "mysql"])
def test_an_unreachable_server_is_reported_within_the_patience(scheme, monkeypatch):
    """Retries stop at the patience or the attempts, whichever comes first (no wall clock asserted)."""
    import tempopt.study.storage.opening as storage_module

    waits: list[float] = []
    monkeypatch.setattr(storage_module.time, "sleep", waits.append)
    url = f"{scheme}://u:hunter2@127.0.0.1:{_closed_port()}/x"
    with pytest.raises(StorageError):
        open_storage(url, attempts=3, patience=3600.0)
    assert len(waits) == 2  # three attempts, two back-offs between them
    waits.clear()
    with pytest.raises(StorageError) as info:
        open_storage(url, attempts=8, patience=0.0)
    assert waits == []  # out of patience at the first refusal: no retry
    message = str(info.value)
    assert message.startswith(f"cannot reach the storage {scheme}://u:***@127.0.0.1:")
    assert "hunter2" not in message and "refused" in message.lower()


def test_describe_error_gives_the_database_message_without_wrappers():
    pymysql_like = sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception(2003, "Can't connect to MySQL server"))
    assert describe_error(pymysql_like) == "Can't connect to MySQL server [2003]"
    try:
        try:
            raise sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection\nmore"))
        except sqlalchemy.exc.OperationalError as e:
            raise optuna.exceptions.StorageInternalError("An exception is raised during the commit.") from e
    except optuna.exceptions.StorageInternalError as wrapped:
        assert describe_error(wrapped) == "server closed the connection"


def test_tempopt_storage_sets_up_every_sqlite_connection_also_after_a_pickle(tmp_path):
    storage = TempoptStorage(f"sqlite:///{tmp_path / 'p.db'}")
    for opened in (storage, pickle.loads(pickle.dumps(storage))):
        with opened.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL (FULL is 2)
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_tempopt_storage_keeps_the_tables_of_an_in_memory_sqlite_database():
    """As Optuna's own storage: the database lives in its connection, which is never closed."""
    study = optuna.create_study(storage=TempoptStorage("sqlite:///:memory:"))
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 2


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite://", "sqlite:///file:x?mode=memory&uri=true"])
def test_open_storage_refuses_an_in_memory_database_in_one_sentence(url):
    with pytest.raises(StorageError, match=r"only the thread which opened it can see.*sqlite:///tempopt\.db\.$"):
        open_storage(url)
    with pytest.raises(StorageError, match="in one process's memory, gone when it ended"):
        open_existing_storage(url)
