"""Counting a study's trials by state with one aggregate query, where Optuna's storage API reads
every trial (params, attrs and intermediate values) to count them."""

from __future__ import annotations

import optuna
import sqlalchemy
from optuna.storages._rdb import models
from optuna.storages._rdb.storage import _create_scoped_session
from optuna.trial import TrialState

from tempopt.study.optuna_compat.ids import rdb_storage, study_id_of


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
