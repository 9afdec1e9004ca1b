"""What counts as an unreachable database, and how storage calls wait for it to come back."""

from __future__ import annotations

import optuna
import pytest
import sqlalchemy.exc

from tempopt.errors import StorageError
from tempopt.study.storage import retries as liveness
from tempopt.study.storage.retries import is_transient, retrying


def _operational(message: str = "server closed the connection unexpectedly") -> sqlalchemy.exc.OperationalError:
    return sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception(message))


def _wrapped(cause: BaseException) -> optuna.exceptions.StorageInternalError:
    """What Optuna raises for an error inside one of its sessions."""
    try:
        try:
            raise cause
        except sqlalchemy.exc.SQLAlchemyError as e:
            raise optuna.exceptions.StorageInternalError("An exception is raised during the commit.") from e
    except optuna.exceptions.StorageInternalError as wrapped:
        return wrapped


def _pending_rollback_after_a_lost_connection() -> sqlalchemy.exc.PendingRollbackError:
    """Optuna's _get_trials retries on a broken session: the second error has the first as context."""
    try:
        try:
            raise _operational("terminating connection due to administrator command")
        except sqlalchemy.exc.OperationalError:
            raise sqlalchemy.exc.PendingRollbackError("Can't reconnect until the transaction is rolled back")  # noqa: B904
    except sqlalchemy.exc.PendingRollbackError as e:
        return e


@pytest.mark.parametrize(
    "error",
    [
        _operational(),
        sqlalchemy.exc.InterfaceError("SELECT 1", {}, Exception("(0, '')")),
        _wrapped(_operational()),
        _wrapped(_pending_rollback_after_a_lost_connection()),
    ],
    ids=["operational", "interface", "inside an Optuna session", "pending rollback after a lost connection"],
)
def test_lost_connections_are_transient(error):
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        _wrapped(sqlalchemy.exc.DataError("INSERT", {}, Exception("value too long"))),
        sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("duplicate key")),
        optuna.exceptions.UpdateFinishedTrialError("trial 3 is already finished"),
        ValueError("not a database error"),
    ],
    ids=["data error", "integrity error", "finished trial", "other"],
)
def test_other_errors_are_not(error):
    assert not is_transient(error)


def test_retrying_waits_for_the_database_and_returns_the_result(monkeypatch):
    monkeypatch.setattr(liveness.time, "sleep", lambda s: None)
    outcomes = [_wrapped(_operational()), _operational(), "rows"]

    def call():
        outcome = outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    assert retrying(call, "reading trials") == "rows"
    assert outcomes == []


def test_retrying_passes_other_errors_through_at_once():
    calls = []

    def call():
        calls.append(1)
        raise optuna.exceptions.UpdateFinishedTrialError("finished")

    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        retrying(call, "telling trial 3")
    assert len(calls) == 1


def test_retrying_gives_up_after_its_patience_with_one_sentence():
    def call():
        raise _operational("connection refused")

    with pytest.raises(StorageError) as info:
        retrying(call, "telling trial 3", patience=0.0)
    message = str(info.value)
    assert message.startswith("the database stayed unreachable for 0 s while telling trial 3 (connection refused)")
    assert message.endswith("run the same command again to resume.")
    assert info.value.exit_code == 3


def test_optunas_fallback_warning_is_dropped_for_a_lost_connection_only():
    import logging

    from tempopt.study.storage import retries as liveness  # noqa: F401  (installs the filter)

    logger = logging.getLogger("optuna.storages._rdb.storage")
    lost = logger.makeRecord(
        logger.name,
        logging.WARNING,
        __file__,
        1,
        "Caught an error from sqlalchemy: (psycopg.OperationalError) server closed the connection unexpectedly",
        (),
        None,
    )
    many = logger.makeRecord(
        logger.name,
        logging.WARNING,
        __file__,
        1,
        "Caught an error from sqlalchemy: (sqlite3.OperationalError) too many SQL variables. Falling back.",
        (),
        None,
    )
    assert not logger.filter(lost) and logger.filter(many)
