"""tempopt's storage reads and writes trials with plain statements
(``tempopt.study.optuna_internals.reads`` and ``fast_writes``), where Optuna's RDB storage goes
through the ORM: pinned here to give exactly what Optuna's own methods give, on every backend,
for trials of every kind (inf and nan values, every distribution, attrs, multi-objective)."""

from __future__ import annotations

import math
import warnings

import optuna
import pytest
import sqlalchemy
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.storages import RDBStorage
from optuna.trial import TrialState

from tempopt.study import optuna_internals as compat
from tempopt.study.optuna_internals import fast_writes, reads
from tempopt.study.storage.opening import normalise_url
from tests.workers.harness import fresh_database

_BEATS = optuna.storages._rdb.models.TrialHeartbeatModel.__table__

pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used")
BACKENDS = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.integration),
    pytest.param("mariadb", marks=pytest.mark.integration),
]


@pytest.fixture(params=BACKENDS)
def storage(request, tmp_path):
    with fresh_database(request.param, tmp_path) as url, warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = compat.AtomicClaimStorage(normalise_url(url), heartbeat_interval=60, grace_period=120)
        yield storage
        storage.engine.dispose()


def _same(a, b):
    """Trials equal as Optuna compares them, nan intermediate values included (nan != nan)."""
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert str(x.intermediate_values) == str(y.intermediate_values)
        assert {**x.__dict__, "intermediate_values": None} == {**y.__dict__, "intermediate_values": None}


def _fill(storage):
    """Two studies with trials of every kind; returns the first study."""
    study = optuna.create_study(storage=storage, study_name="a", directions=["maximize", "minimize"])
    other = optuna.create_study(storage=storage, study_name="b")
    other.add_trial(optuna.trial.create_trial(value=1.0))
    for values in ([0.5, math.inf], [-math.inf, 2.0]):
        trial = study.ask()
        trial.suggest_float("x", 1e-3, 1.0, log=True)
        trial.suggest_int("n", 1, 9, step=2)
        trial.suggest_categorical("c", ["a", None, 3])
        trial.set_user_attr("list", [1, "two", None])
        study._storage.set_trial_system_attr(trial._trial_id, "sys", {"k": 1.5})
        for step, value in enumerate((0.25, math.nan, math.inf, -math.inf)):
            study._storage.set_trial_intermediate_value(trial._trial_id, step, value)
        study.tell(trial, values)
    study.ask()  # running, with nothing yet
    study.enqueue_trial({"x": 0.5}, user_attrs={"queued": True})
    failed = study.ask()
    study.tell(failed, state=TrialState.FAIL)
    return study


def test_reads_are_optunas(storage):
    study = _fill(storage)
    sid = study._study_id
    ids = [t._trial_id for t in RDBStorage.get_all_trials(storage, sid)]
    for trial_id in ids:
        _same([storage.get_trial(trial_id)], [RDBStorage.get_trial(storage, trial_id)])
    cases = [
        (None, set(), -1),
        ((TrialState.COMPLETE,), set(), -1),
        ((TrialState.RUNNING, TrialState.WAITING), set(), -1),
        (None, set(), ids[1]),
        (None, {ids[0], ids[2]}, ids[2]),
        (None, {ids[-1]}, ids[1]),  # an id above the bound is not "included"
    ]
    for states, included, above in cases:
        fast = storage._get_trials(sid, states, included, above)
        _same(fast, RDBStorage._get_trials(storage, sid, states, included, above))
    many = set(range(ids[0], ids[0] + reads._MANY + 2))  # read from the first one on, filtered here
    _same(storage._get_trials(sid, None, many, ids[2]), RDBStorage._get_trials(storage, sid, None, many, ids[2]))
    with pytest.raises(KeyError):
        storage.get_trial(10_000)
    with pytest.raises(KeyError):
        storage._get_trials(10_000, None, set(), -1)


def test_reads_of_many_trials_select_their_children_by_query(storage, monkeypatch):
    study = _fill(storage)
    monkeypatch.setattr(reads, "_MANY", 1)
    _same(storage.get_all_trials(study._study_id), RDBStorage.get_all_trials(storage, study._study_id))


def test_writes_are_optunas(storage):
    """A trial started, given params and finished by tempopt's statements holds what Optuna's
    own methods write (the reference trial is written by them, on the same storage)."""
    study = optuna.create_study(storage=storage, study_name="w", direction="maximize")
    sid = study._study_id
    dists = {
        "x": FloatDistribution(1e-3, 1.0, log=True),
        "n": IntDistribution(1, 9, step=2),
        "c": CategoricalDistribution(["a", None, 3]),
    }
    trials = []
    for write in (fast_writes.FastWriteStorage, RDBStorage):
        frozen = write._create_new_trial(storage, sid)
        stored = storage.get_trial(frozen._trial_id)  # what it returns is what it stored (MariaDB keeps seconds)
        assert abs((frozen.datetime_start - stored.datetime_start).total_seconds()) < 1
        assert {**frozen.__dict__, "_datetime_start": None} == {**stored.__dict__, "_datetime_start": None}
        for name, value in (("x", 0.1), ("n", 3), ("c", None)):
            internal = dists[name].to_internal_repr(value)
            write._set_trial_param(storage, frozen._trial_id, name, internal, dists[name], None)
        assert write.set_trial_state_values(storage, frozen._trial_id, TrialState.COMPLETE, [math.inf]) is True
        trials.append(storage.get_trial(frozen._trial_id))
    fast, reference = trials
    assert fast.number + 1 == reference.number
    for t in trials:
        assert t.datetime_start <= t.datetime_complete
    keep = ("_trial_id", "_number", "_datetime_start", "datetime_complete")
    assert {k: v for k, v in fast.__dict__.items() if k not in keep} == {
        k: v for k, v in reference.__dict__.items() if k not in keep
    }
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):  # what Optuna raises on a finished trial
        storage._set_trial_param(fast._trial_id, "y", 0.5, FloatDistribution(0, 1), None)
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        storage.set_trial_state_values(fast._trial_id, TrialState.FAIL)
    running = storage._create_new_trial(sid)
    with pytest.raises(ValueError, match="distribution"):  # the study's earlier distribution of a param
        storage._set_trial_param(running._trial_id, "x", 1, IntDistribution(0, 3), None)
    assert storage.set_trial_state_values(running._trial_id, TrialState.PRUNED, [0.25]) is True
    assert storage.get_trial(running._trial_id).values == [0.25]
    with pytest.raises(KeyError):
        storage._create_new_trial(10_000)


def test_a_study_runs_on_them(storage):
    """Optuna's own optimize, its sampler and pruner over tempopt's storage: the same trials as
    over Optuna's (same seed), and a queued trial still goes first."""

    def objective(trial):
        x = trial.suggest_float("x", -3, 3)
        for step in range(3):
            trial.report(-(x**2) + step, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return -(x**2)

    def run(name, on):
        study = optuna.create_study(
            storage=on, study_name=name, direction="maximize", sampler=optuna.samplers.TPESampler(seed=3)
        )
        study.enqueue_trial({"x": 0.0})
        study.optimize(objective, n_trials=12)
        return [(t.state, t.params, t.values, t.intermediate_values) for t in study.trials]

    reference = RDBStorage(str(storage.engine.url.render_as_string(hide_password=False)))
    try:
        assert run("fast", storage) == run("reference", reference)
    finally:
        reference.engine.dispose()


def test_heartbeats_are_optunas(storage):
    """A heartbeat is one row per trial, at the database's time, moved on by each beat; a trial
    whose beat is older than the grace period is stale to Optuna."""
    study = optuna.create_study(storage=storage, study_name="h")
    fast, reference = storage._create_new_trial(study._study_id), storage._create_new_trial(study._study_id)
    storage.record_heartbeat(fast._trial_id)
    RDBStorage.record_heartbeat(storage, reference._trial_id)
    beats = {}
    for _ in range(2):
        storage.record_heartbeat(fast._trial_id)
        with storage.engine.connect() as conn:
            rows = conn.execute(sqlalchemy.select(_BEATS.c.trial_id, _BEATS.c.heartbeat)).all()
        assert sorted(r.trial_id for r in rows) == sorted([fast._trial_id, reference._trial_id])
        beats = {r.trial_id: r.heartbeat for r in rows}
    assert abs((beats[fast._trial_id] - beats[reference._trial_id]).total_seconds()) < 2
    assert storage._get_stale_trial_ids(study._study_id) == []
    storage.grace_period = -10  # every beat is "older" than that
    assert sorted(storage._get_stale_trial_ids(study._study_id)) == sorted([fast._trial_id, reference._trial_id])
