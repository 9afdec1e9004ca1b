"""Storage calls tried again while the database is unreachable, never while a fault lasts.

* :func:`retrying` runs a storage call again while the database is unreachable (not when it is
  full, read-only or forbids the call), until a stop signal.
* :func:`is_transient` tells an outage from any other error: Optuna turns most SQLAlchemy errors
  raised inside a session into ``StorageInternalError``, and it sees through that.
* The outage clock (:func:`note_outage`) lets :mod:`~tempopt.study.storage.heartbeats` spare the
  trials whose heartbeats an outage held up.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import TypeVar

import optuna
import sqlalchemy.exc

from tempopt.errors import StorageError
from tempopt.stopping import Interrupted, pause
from tempopt.study.storage.faults import lasting_fault
from tempopt.study.storage.opening import describe_error

log = logging.getLogger(__name__)
T = TypeVar("T")
TRANSIENT = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)
_last_outage = -math.inf  # time.monotonic() of the last unreachable-database error seen here


class _NoOutageFallbackWarning(logging.Filter):
    """Optuna reads any OperationalError while reading trials as "too many SQL variables" and warns
    that it falls back to a slower query. When the error is a lost connection that warning is
    wrong: the query fails again and :func:`retrying` says, in one line, that the database is
    unreachable. Drop only that case (a real "too many variables" warning stays)."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        lost = any(word in text.lower() for word in ("connection", "connect to", "server closed", "gone away"))
        return not (text.startswith("Caught an error from sqlalchemy") and lost)


logging.getLogger("optuna.storages._rdb.storage").addFilter(_NoOutageFallbackWarning())


def is_transient(error: BaseException) -> bool:
    """True if ``error`` means the database is unreachable for now (worth trying again).

    Optuna re-raises SQLAlchemy errors from inside a session as ``StorageInternalError``, and a
    lost connection often surfaces as a later SQLAlchemy error (``PendingRollbackError``) raised
    while handling it: the chain of causes is searched through such wrappers.
    """
    if lasting_fault(error) is not None:  # a full disk or a missing privilege stays so
        return False
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, TRANSIENT) or getattr(seen, "connection_invalidated", False):
            return True
        if not isinstance(seen, (optuna.exceptions.StorageInternalError, sqlalchemy.exc.SQLAlchemyError)):
            return False
        seen = seen.__cause__ or seen.__context__
    return False


def note_outage() -> None:
    """Remember that the database was unreachable just now (heartbeats could not be recorded)."""
    global _last_outage
    _last_outage = time.monotonic()


def seconds_since_outage() -> float:
    """Seconds since this process last saw the database unreachable (infinite if never)."""
    return time.monotonic() - _last_outage


def retrying(call: Callable[[], T], what: str, patience: float = 180.0) -> T:
    """Run a storage call, again and again while the database is unreachable.

    Only what a retry can fix is retried (a lost connection, a locked database); a fault that
    stays (:func:`~tempopt.study.storage.faults.lasting_fault`: a full disk, a read-only database, a
    missing privilege or missing tables) is reported at once. A stop signal ends the wait.

    Args:
        call: the storage operation.
        what: what it does, for the log and the error ("telling trial 3").
        patience: seconds to keep trying before giving up.

    Raises:
        StorageError: a lasting fault, or the database stayed unreachable for ``patience`` seconds.
        Interrupted: SIGINT or SIGTERM arrived while waiting for the database.
    """
    deadline = time.monotonic() + patience
    delay = 0.5
    while True:
        try:
            return call()
        except (*TRANSIENT, optuna.exceptions.StorageInternalError) as e:
            fault = lasting_fault(e)
            if fault is not None:
                raise StorageError(f"{fault.cause} while {what} ({describe_error(e)}); {fault.fix}.") from e
            if not is_transient(e):
                raise
            note_outage()
            if time.monotonic() > deadline:
                raise StorageError(
                    f"the database stayed unreachable for {patience:.0f} s while {what} "
                    f"({describe_error(e)}); restart it and run the same command again to resume."
                ) from e
            log.warning("database unreachable while %s (%s); retrying in %.1f s", what, describe_error(e), delay)
            signum = pause(delay)
            if signum is not None:
                raise Interrupted(signum, f"while {what} (the database was unreachable)") from e
            delay = min(delay * 2, 10.0)
