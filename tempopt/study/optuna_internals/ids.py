"""A study's storage and the storage's ids of studies and trials (Optuna keeps them private)."""

from __future__ import annotations

from typing import Any

import optuna
from optuna.trial import FrozenTrial


def storage_of(study: optuna.Study) -> Any:
    """The storage a study object reads and writes through."""
    return study._storage  # noqa: SLF001


def study_id_of(study: optuna.Study) -> int:
    return int(study._study_id)  # noqa: SLF001


def trial_id_of(trial: optuna.Trial | FrozenTrial) -> int:
    """The storage's id of a trial (not its number)."""
    return int(trial._trial_id)  # noqa: SLF001


def rdb_storage(study: optuna.Study) -> optuna.storages.RDBStorage | None:
    """The study's RDB storage (unwrapped from Optuna's cache), or None for other storages."""
    storage = storage_of(study)
    storage = getattr(storage, "_backend", storage)  # optuna.storages._CachedStorage
    return storage if isinstance(storage, optuna.storages.RDBStorage) else None
