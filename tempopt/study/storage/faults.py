"""Database errors that no retry can fix, told apart from an outage.

A lost connection or a locked database passes: trying again later works. A full disk, a read-only
database, a missing privilege, refused credentials or missing tables stay as they are however
long one waits: :func:`lasting_fault` names them, so that the caller says so in one sentence at
once instead of retrying for minutes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    """What is wrong with the database, and what would fix it."""

    cause: str
    fix: str


DISK_FULL = Fault("the disk holding the database is full", "free space there")
DISK_IO = Fault(
    "the database file cannot be read or written (disk I/O error: a full disk, a removed file or a failing drive)",
    "check the disk and the file",
)
READ_ONLY = Fault("the database is read-only", "make it writable or pass --storage with a writable database")
PRIVILEGE = Fault(
    "the database user lacks a privilege tempopt needs",
    "grant it CREATE, SELECT, INSERT, UPDATE and DELETE on the database, or use another user",
)
CREDENTIALS = Fault("the database refused the user name or password", "fix them in --storage")
NO_TABLES = Fault(
    "the database lacks Optuna's tables (dropped?)", "restore it, or pass --storage with another database"
)

# (SQLSTATE of PostgreSQL, error number of MySQL/MariaDB, or words of a message) -> fault
_CODES: dict[str | int, Fault] = {
    "53100": DISK_FULL,
    "25006": READ_ONLY,
    "42501": PRIVILEGE,
    "28P01": CREDENTIALS,
    "28000": CREDENTIALS,
    "42P01": NO_TABLES,
    1021: DISK_FULL,
    1114: DISK_FULL,
    1290: READ_ONLY,
    1792: READ_ONLY,
    1044: PRIVILEGE,
    1142: PRIVILEGE,
    1143: PRIVILEGE,
    1227: PRIVILEGE,
    1045: CREDENTIALS,
    1146: NO_TABLES,
}
_WORDS: tuple[tuple[str, Fault], ...] = (
    ("database or disk is full", DISK_FULL),
    ("no space left on device", DISK_FULL),
    ("disk i/o error", DISK_IO),
    ("readonly database", READ_ONLY),
    ("read-only transaction", READ_ONLY),
    ("permission denied", PRIVILEGE),
    ("password authentication failed", CREDENTIALS),
    ("no such table", NO_TABLES),
)


def lasting_fault(error: BaseException) -> Fault | None:
    """The fault behind ``error`` (or an error it was raised from) that no retry can fix, if any."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for candidate in (current, getattr(current, "orig", None)):
            fault = _fault_of(candidate)
            if fault is not None:
                return fault
        current = current.__cause__ or current.__context__
    return None


def _fault_of(error: object) -> Fault | None:
    if error is None:
        return None
    sqlstate = getattr(error, "sqlstate", None)  # psycopg
    if isinstance(sqlstate, str) and sqlstate in _CODES:
        return _CODES[sqlstate]
    args: tuple[object, ...] = getattr(error, "args", ())
    if len(args) == 2 and isinstance(args[0], int) and args[0] in _CODES:  # PyMySQL: (number, message)
        return _CODES[args[0]]
    text = str(error).lower()
    return next((fault for words, fault in _WORDS if words in text), None)
