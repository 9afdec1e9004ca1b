"""Several writes to one trial in one transaction: one check that the trial is still running and
one read of what it already has, where Optuna commits each write on its own (with two queries)."""

from __future__ import annotations

import json
from typing import Any

import optuna
import sqlalchemy
from optuna.storages._rdb import models
from optuna.storages._rdb.storage import _create_scoped_session

from tempopt.study.optuna_compat.ids import rdb_storage, storage_of, trial_id_of


def set_user_attrs(trial: optuna.Trial, attrs: dict[str, Any]) -> None:
    """``trial.set_user_attr(k, v)`` for every item, in one transaction on an RDB storage."""
    storage = rdb_storage(trial.study)
    if storage is None:  # in memory, or through the gRPC proxy: one call each
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        return
    columns = {key: {"value_json": json.dumps(value)} for key, value in attrs.items()}
    _write_rows(storage, trial_id_of(trial), models.TrialUserAttributeModel, "key", columns)
    trial._cached_frozen_trial.user_attrs.update(attrs)  # noqa: SLF001  what trial.set_user_attr keeps


def write_intermediate_values(trial: optuna.Trial, values: dict[int, float]) -> None:
    """``trial.report(value, step=step)`` for every item, in one transaction on an RDB storage."""
    trial_id = trial_id_of(trial)
    storage = rdb_storage(trial.study)
    if storage is None:  # in memory, or through the gRPC proxy: one call each
        for step, value in values.items():
            storage_of(trial.study).set_trial_intermediate_value(trial_id, step, value)
    else:
        model = models.TrialIntermediateValueModel
        columns = {}
        for step, value in values.items():
            number, kind = model.intermediate_value_to_stored_repr(value)
            columns[step] = {"intermediate_value": number, "intermediate_value_type": kind}
        _write_rows(storage, trial_id, model, "step", columns)
    trial._cached_frozen_trial.intermediate_values.update(values)  # noqa: SLF001  what trial.report keeps


def _write_rows(
    storage: optuna.storages.RDBStorage, trial_id: int, model: Any, key: str, columns: dict[Any, dict[str, Any]]
) -> None:
    """Rows of a still-running trial in ``model``, one per ``key`` value: those it has are updated,
    the others inserted in one statement; one transaction."""
    with _create_scoped_session(storage.scoped_session, True) as session:
        state: Any = models.TrialModel.find_or_raise_by_id(trial_id, session).state
        storage.check_trial_is_updatable(trial_id, state)  # Optuna's UpdateFinishedTrialError
        column = getattr(model, key)
        query = session.query(model).filter(model.trial_id == trial_id, column.in_(list(columns)))
        stored = {getattr(row, key): row for row in query}
        new = []
        for value, fields in columns.items():
            row = stored.get(value)
            if row is None:
                new.append({"trial_id": trial_id, key: value, **fields})
            else:
                for name, field in fields.items():
                    setattr(row, name, field)
        if new:
            session.execute(sqlalchemy.insert(model), new)
