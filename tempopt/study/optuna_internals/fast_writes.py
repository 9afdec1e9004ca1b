"""Optuna's per-trial writes (start a trial, store a param, a heartbeat, finish a trial) as a few plain
statements each, where Optuna's RDB storage goes through the ORM (about 1 to 2 ms each on
SQLite, most of it building and tracking ORM objects): the same rows, the same checks, the same
errors. A trial starts with one of these and three more per param on the quickstart.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import Any

import optuna
import sqlalchemy
from optuna import distributions
from optuna.storages._rdb import models
from optuna.storages._rdb.storage import _create_scoped_session
from optuna.trial import FrozenTrial, TrialState

from tempopt.study.optuna_internals.reads import FastReadStorage
from tempopt.timestamps import as_local, database_now, utc_now

_TRIALS = models.TrialModel.__table__
_PARAMS = models.TrialParamModel.__table__
_VALUES = models.TrialValueModel.__table__
_bind = sqlalchemy.bindparam

# Built once: building a statement costs more than running it (SQLAlchemy's cache key).
_STUDY_FOR_UPDATE = (
    sqlalchemy.select(models.StudyModel.study_id)
    .where(models.StudyModel.study_id == _bind("study_id"))
    .with_for_update()  # numbering a new trial must not race another worker's (no-op on SQLite)
)
_NEW_TRIAL = sqlalchemy.insert(_TRIALS).values(
    study_id=_bind("study_id"), number=None, state=_bind("state"), datetime_start=_bind("start")
)
_PAST_TRIALS = sqlalchemy.select(sqlalchemy.func.count(_TRIALS.c.trial_id)).where(
    _TRIALS.c.study_id == _bind("study_id"), _TRIALS.c.trial_id < _bind("trial_id")
)
_SET_NUMBER = sqlalchemy.update(_TRIALS).where(_TRIALS.c.trial_id == _bind("id")).values(number=_bind("number"))
_TRIAL = sqlalchemy.select(_TRIALS.c.state, _TRIALS.c.study_id).where(_TRIALS.c.trial_id == _bind("trial_id"))
_TRIAL_FOR_UPDATE = _TRIAL.with_for_update()
_PREVIOUS_DISTRIBUTION = (
    sqlalchemy.select(_PARAMS.c.distribution_json)
    .join(_TRIALS, _PARAMS.c.trial_id == _TRIALS.c.trial_id)
    .where(_TRIALS.c.study_id == _bind("study_id"), _PARAMS.c.param_name == _bind("name"))
    .limit(1)
)
_NEW_PARAM = sqlalchemy.insert(_PARAMS)
_OBJECTIVES = sqlalchemy.select(_VALUES.c.objective).where(_VALUES.c.trial_id == _bind("trial_id"))
_SET_VALUE = (
    sqlalchemy.update(_VALUES)
    .where(_VALUES.c.trial_id == _bind("id"), _VALUES.c.objective == _bind("objective_of"))
    .values(value=_bind("new_value"), value_type=_bind("new_type"))
)
_NEW_VALUE = sqlalchemy.insert(_VALUES)
_FINISH = (
    sqlalchemy.update(_TRIALS)
    .where(_TRIALS.c.trial_id == _bind("id"), _TRIALS.c.state == _bind("was"))
    .values(state=_bind("state"), datetime_complete=_bind("complete"))
)
_BEATS = models.TrialHeartbeatModel.__table__
_BEAT = sqlalchemy.update(_BEATS).where(_BEATS.c.trial_id == _bind("id")).values(heartbeat=database_now())
_FIRST_BEAT = sqlalchemy.insert(_BEATS).values(trial_id=_bind("id"), heartbeat=database_now())
MAX_RETRIES = 5
"""Tries at starting a trial before a deadlock is reported (as Optuna's)."""


class FastWriteStorage(FastReadStorage):
    """Optuna's RDB storage whose start of a fresh trial, params, heartbeats and end of a trial are
    written with plain statements (each pinned equal to Optuna's own by
    ``tests/study/optuna_internals/test_optuna_internals.py``)."""

    def _create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> FrozenTrial:
        if template_trial is not None:  # a queued or added trial: Optuna's own path, rows of every kind
            return super()._create_new_trial(study_id, template_trial)
        for attempt in range(1, MAX_RETRIES + 1):
            try:
                return self._insert_trial(study_id)
            except optuna.exceptions.StorageInternalError:  # e.g. a deadlock between workers
                if attempt == MAX_RETRIES:
                    raise
                time.sleep(random.random() * 2.0)
        raise AssertionError("not reached")

    def _insert_trial(self, study_id: int) -> FrozenTrial:
        stored = utc_now()
        with _create_scoped_session(self.scoped_session) as session:
            if session.execute(_STUDY_FOR_UPDATE, {"study_id": study_id}).first() is None:
                raise KeyError(models.NOT_FOUND_MSG)
            inserted: Any = session.execute(
                _NEW_TRIAL, {"study_id": study_id, "state": TrialState.RUNNING, "start": stored}
            )
            trial_id = int(inserted.inserted_primary_key[0])
            number = session.execute(_PAST_TRIALS, {"study_id": study_id, "trial_id": trial_id}).scalar_one()
            session.execute(_SET_NUMBER, {"id": trial_id, "number": number})
        return FrozenTrial(
            number=int(number),
            state=TrialState.RUNNING,
            value=None,
            values=None,
            datetime_start=as_local(stored),  # as stored and read back (Optuna returns the same)
            datetime_complete=None,
            params={},
            distributions={},
            user_attrs={},
            system_attrs={},
            intermediate_values={},
            trial_id=trial_id,
        )

    def _set_trial_param(
        self,
        trial_id: int,
        param_name: str,
        param_value_internal: float,
        distribution: distributions.BaseDistribution,
        previous_distribution: distributions.BaseDistribution | None,
    ) -> None:
        with _create_scoped_session(self.scoped_session, True) as session:
            row = session.execute(_TRIAL, {"trial_id": trial_id}).first()
            if row is None:
                raise KeyError(models.NOT_FOUND_MSG)
            self.check_trial_is_updatable(trial_id, row.state)
            if previous_distribution is None:
                stored = session.execute(_PREVIOUS_DISTRIBUTION, {"study_id": row.study_id, "name": param_name})
                previous_json = stored.scalar_one_or_none()
                if previous_json is not None:
                    previous_distribution = distributions.json_to_distribution(previous_json)
            if previous_distribution is not None:
                distributions.check_distribution_compatibility(previous_distribution, distribution)
            session.execute(
                _NEW_PARAM,
                {
                    "trial_id": trial_id,
                    "param_name": param_name,
                    "param_value": param_value_internal,
                    "distribution_json": distributions.distribution_to_json(distribution),
                },
            )

    def set_trial_state_values(self, trial_id: int, state: TrialState, values: Sequence[float] | None = None) -> bool:
        if not state.is_finished():  # a start, or back to the queue: Optuna's own
            return super().set_trial_state_values(trial_id, state, values)
        try:
            with _create_scoped_session(self.scoped_session) as session:
                row = session.execute(_TRIAL_FOR_UPDATE, {"trial_id": trial_id}).first()
                if row is None:
                    raise KeyError(models.NOT_FOUND_MSG)
                self.check_trial_is_updatable(trial_id, row.state)
                if values is not None:
                    stored = set(session.execute(_OBJECTIVES, {"trial_id": trial_id}).scalars())
                    for objective, value in enumerate(values):
                        number, kind = models.TrialValueModel.value_to_stored_repr(value)
                        if objective in stored:
                            fields = {"new_value": number, "new_type": kind}
                            session.execute(_SET_VALUE, {"id": trial_id, "objective_of": objective, **fields})
                        else:
                            new = {"trial_id": trial_id, "objective": objective, "value": number, "value_type": kind}
                            session.execute(_NEW_VALUE, new)
                finished: Any = session.execute(
                    _FINISH, {"id": trial_id, "was": row.state, "state": state, "complete": utc_now()}
                )
                if finished.rowcount != 1:  # another worker finished it since the read (SQLite takes no row lock)
                    raise optuna.exceptions.UpdateFinishedTrialError(f"trial {trial_id} has already finished")
        except sqlalchemy.exc.IntegrityError:
            return False
        return True

    def record_heartbeat(self, trial_id: int) -> None:
        with _create_scoped_session(self.scoped_session, True) as session:  # a race on the first: one is kept
            beat: Any = session.execute(_BEAT, {"id": trial_id})
            if beat.rowcount == 0:
                session.execute(_FIRST_BEAT, {"id": trial_id})
