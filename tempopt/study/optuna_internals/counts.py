"""Counting a study's trials by state with one aggregate query, where Optuna's storage API reads
every trial (params, attrs and intermediate values) to count them."""

from __future__ import annotations

import optuna
import sqlalchemy
from optuna.storages._rdb import models
from optuna.storages._rdb.storage import _create_scoped_session
from optuna.trial import TrialState

from tempopt.study.optuna_internals.ids import rdb_storage, study_id_of


def count_states(study: optuna.Study, below: int | None = None) -> dict[TrialState, int]:
    """The number of the study's trials in each state (of those numbered below ``below``, if given)."""
    counts = dict.fromkeys(TrialState, 0)
    storage = rdb_storage(study)
    if storage is None:  # in memory, or through the gRPC proxy
        for t in study.get_trials(deepcopy=False):
            if below is None or t.number < below:
                counts[t.state] += 1
        return counts
    trials = models.TrialModel
    with _create_scoped_session(storage.scoped_session) as session:
        query = session.query(trials.state, sqlalchemy.func.count(trials.trial_id)).filter(
            trials.study_id == study_id_of(study)
        )
        if below is not None:
            query = query.filter(trials.number < below)
        for state, count in query.group_by(trials.state):
            counts[TrialState(state)] = int(count)
    return counts


RUNG_PREFIX = "completed_rung_"
"""The system attrs successive halving (and Hyperband's brackets) record a trial's rungs in."""


def pruner_inputs(study: optuna.Study) -> tuple[int, int] | None:
    """What the pruners tempopt ships read of other trials, counted in one query: the study's
    COMPLETE trials and its rung attrs. None where the storage is not an RDB one."""
    storage = rdb_storage(study)
    if storage is None:
        return None
    trials, attrs = models.TrialModel, models.TrialSystemAttributeModel
    study_id = study_id_of(study)
    complete = (
        sqlalchemy.select(sqlalchemy.func.count(trials.trial_id))
        .where(trials.study_id == study_id, trials.state == TrialState.COMPLETE)
        .scalar_subquery()
    )
    rungs = (
        sqlalchemy.select(sqlalchemy.func.count(attrs.trial_system_attribute_id))
        .join(trials, attrs.trial_id == trials.trial_id)
        .where(trials.study_id == study_id, attrs.key.like(f"{RUNG_PREFIX}%"))
        .scalar_subquery()
    )
    with _create_scoped_session(storage.scoped_session) as session:
        row = session.execute(sqlalchemy.select(complete, rungs)).one()
    return int(row[0]), int(row[1])
