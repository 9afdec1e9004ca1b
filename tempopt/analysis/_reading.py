"""Opening a study for reading, without creating an empty database by mistake."""

from __future__ import annotations

import optuna

from tempopt.study.storage import load_study, open_existing_storage


def read_study(name: str, url: str) -> optuna.Study:
    """Load the study ``name`` from an existing storage.

    Raises:
        StorageError: no such storage or study, or the storage is unreachable.
    """
    return load_study(name, url)


def read_storage(url: str) -> optuna.storages.BaseStorage:
    """Open an existing storage.

    Raises:
        StorageError: no such storage, or it is unreachable.
    """
    return open_existing_storage(url)
