"""Opening a study for reading, without creating an empty database by mistake."""

from __future__ import annotations

from pathlib import Path

import optuna
from sqlalchemy.engine import make_url

from tempopt.errors import StorageError
from tempopt.study.storage import load_study, normalise_url, open_storage, redact_url


def require_existing(url: str) -> None:
    """Refuse a SQLite URL whose file does not exist (opening it would create an empty one).

    Raises:
        StorageError: the SQLite file is missing.
    """
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite":
        return
    database = parsed.database
    if not database or database == ":memory:" or not Path(database).is_file():
        raise StorageError(
            f"there is no study database at {redact_url(url)}; pass --storage with the URL "
            "the study was run with."
        )


def read_study(name: str, url: str) -> optuna.Study:
    """Load the study ``name`` from an existing storage.

    Raises:
        StorageError: no such storage or study, or the storage is unreachable.
    """
    require_existing(url)
    return load_study(name, url)


def read_storage(url: str) -> optuna.storages.RDBStorage:
    """Open an existing storage.

    Raises:
        StorageError: no such storage, or it is unreachable.
    """
    require_existing(url)
    return open_storage(url)
