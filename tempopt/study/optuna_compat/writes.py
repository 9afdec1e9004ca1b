"""Several writes to one trial in one transaction: one check that the trial is still running and
one read of what it already has, where Optuna commits each write on its own (with two queries)."""

from __future__ import annotations

import json
from typing import Any

import optuna
import sqlalchemy
from optuna.storages._rdb import models
from optuna.storages._rdb.storage import _create_scoped_session
from sqlalchemy.orm import Session

from tempopt.study.optuna_compat.ids import rdb_storage, storage_of, trial_id_of


def set_user_attrs(trial: optuna.Trial, attrs: dict[str, Any]) -> None:
    """``trial.set_user_attr(k, v)`` for every item, in one transaction on an RDB storage."""
    storage = rdb_storage(trial.study)
    if storage is None:  # in memory, or through the gRPC proxy: one call each
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        return
    rows = models.TrialUserAttributeModel
    trial_id = trial_id_of(trial)
    with _create_scoped_session(storage.scoped_session, True) as session:
        _check_running(storage, session, trial_id)
        stored: dict[Any, Any] = {
            r.key: r for r in session.query(rows).filter(rows.trial_id == trial_id, rows.key.in_(list(attrs)))
        }
        new = []
        for key, value in attrs.items():
            row = stored.get(key)
            if row is None:
                new.append({"trial_id": trial_id, "key": key, "value_json": json.dumps(value)})
            else:
                row.value_json = json.dumps(value)
        if new:
            session.execute(sqlalchemy.insert(rows), new)
    trial._cached_frozen_trial.user_attrs.update(attrs)  # noqa: SLF001  what trial.set_user_attr keeps


def write_intermediate_values(trial: optuna.Trial, values: dict[int, float]) -> None:
    """``trial.report(value, step=step)`` for every item, in one transaction on an RDB storage."""
    trial_id = trial_id_of(trial)
    storage = rdb_storage(trial.study)
    if storage is None:  # in memory, or through the gRPC proxy: one call each
        for step, value in values.items():
            storage_of(trial.study).set_trial_intermediate_value(trial_id, step, value)
    else:
        rows = models.TrialIntermediateValueModel
        with _create_scoped_session(storage.scoped_session, True) as session:
            _check_running(storage, session, trial_id)
            stored: dict[Any, Any] = {
                r.step: r for r in session.query(rows).filter(rows.trial_id == trial_id, rows.step.in_(list(values)))
            }
            new = []
            for step, value in values.items():
                number, kind = rows.intermediate_value_to_stored_repr(value)
                row = stored.get(step)
                if row is None:
                    new.append(
                        dict(trial_id=trial_id, step=step, intermediate_value=number, intermediate_value_type=kind)
                    )
                else:
                    row.intermediate_value, row.intermediate_value_type = number, kind
            if new:
                session.execute(sqlalchemy.insert(rows), new)  # one statement for all the rows
    trial._cached_frozen_trial.intermediate_values.update(values)  # noqa: SLF001  what trial.report keeps


def _check_running(storage: optuna.storages.RDBStorage, session: Session, trial_id: int) -> None:
    """Raise Optuna's UpdateFinishedTrialError if the trial has finished (or KeyError if unknown)."""
    state: Any = models.TrialModel.find_or_raise_by_id(trial_id, session).state
    storage.check_trial_is_updatable(trial_id, state)
