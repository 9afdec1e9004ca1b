"""The clock of every time tempopt writes to a study or compares with one, in one place.

Optuna's RDB storage keeps a trial's start and end (``datetime_start``, ``datetime_complete``)
as naive UTC, and its trials (``FrozenTrial``) carry them as naive local time; a heartbeat is
the database's own ``now()``, which Optuna writes and compares with the database's ``now()``
again. Written any other way, a time is off by the host's UTC offset: a trial claimed west of
UTC looks hours old to the next dead-trial sweep, one claimed east of it hours young.
"""

from __future__ import annotations

import datetime

from sqlalchemy.sql import functions


def utc_now() -> datetime.datetime:
    """Now as a trial's start or end is stored: naive UTC."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def as_local(stored: datetime.datetime | None) -> datetime.datetime | None:
    """A stored naive-UTC time as the naive local time of Optuna's trials (None stays None)."""
    if stored is None:
        return None
    return stored.replace(tzinfo=datetime.timezone.utc).astimezone().replace(tzinfo=None)


def local_now() -> datetime.datetime:
    """Now as a trial's times are read: naive local time, to compare with them."""
    return datetime.datetime.now()


def seconds_since(local: datetime.datetime) -> float:
    """Seconds from a trial's time (naive local, as read) to now; across a change of the UTC
    offset (summer time) too, since both are compared in UTC."""
    return (datetime.datetime.now(datetime.timezone.utc) - local.astimezone(datetime.timezone.utc)).total_seconds()


def database_now() -> functions.now:
    """The time a heartbeat is written at: the database's own ``now()``, as Optuna writes it and
    as its stale-trial check compares it (so the hosts' clocks and zones never enter)."""
    return functions.now()
