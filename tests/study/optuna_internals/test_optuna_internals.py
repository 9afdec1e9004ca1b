"""Every Optuna internal tempopt relies on, pinned against the installed Optuna (one test each).

If an Optuna release moves one of these, the test named after it fails, and only
``tempopt/study/optuna_internals.py`` needs changing.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from tempopt.study import optuna_internals as compat

# study.ask() on a heartbeat storage says heartbeats are "supposed to be used with Study.optimize":
# tempopt beats them itself (tempopt.study.storage.heartbeats)
pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used")


@pytest.fixture
def storage(tmp_path):
    with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna 5
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return compat.AtomicClaimStorage(f"sqlite:///{tmp_path / 'c.db'}", heartbeat_interval=1, grace_period=1)


@pytest.fixture
def study(storage):
    return optuna.create_study(storage=storage, study_name="compat", direction="maximize")


def test_storage_of_and_the_ids(study, storage):
    trial = study.ask()
    assert compat.rdb_storage(study) is storage  # under Optuna's cache
    assert compat.study_id_of(study) == storage.get_study_id_from_name("compat")
    frozen = study.trials[0]
    assert compat.trial_id_of(trial) == compat.trial_id_of(frozen)
    assert compat.trial_id_of(frozen) == storage.get_trial_id_from_study_id_trial_number(compat.study_id_of(study), 0)
    assert compat.storage_of(study).get_trial(compat.trial_id_of(frozen)).number == 0
    assert compat.rdb_storage(optuna.create_study()) is None  # in memory: no RDB storage


def test_stale_and_never_beaten_trials(study, storage):
    silent, beating = study.ask(), study.ask()
    ids = {compat.trial_id_of(silent), compat.trial_id_of(beating)}
    storage.record_heartbeat(compat.trial_id_of(beating))
    assert compat.never_beaten(storage, ids) == {compat.trial_id_of(silent)}
    time.sleep(2.5)  # past the grace period (SQLite keeps whole seconds)
    assert compat.trial_id_of(beating) in compat.stale_trial_ids(storage, compat.study_id_of(study))


def test_return_to_queue_then_claim_it_again(study):
    trial = study.ask()
    compat.return_to_queue(study, trial)
    assert study.trials[0].state == TrialState.WAITING
    again = compat.claim_waiting(study)
    assert again is not None and again.number == trial.number and compat.claim_waiting(study) is None


def test_start_new_trial_is_ask_without_the_queue(study):
    study.enqueue_trial({"lr": 0.01})
    fresh = compat.start_new_trial(study)
    states = {t.number: t.state for t in study.get_trials()}
    assert fresh.number == 1 and states == {0: TrialState.WAITING, 1: TrialState.RUNNING}  # the queue untouched
    assert fresh.suggest_float("lr", 1e-3, 1.0) != 0.01  # a fresh draw, not the queued params
    study.tell(fresh, 0.5)
    assert study.ask().number == 0  # ask still takes the queued trial first


def test_claim_trial_starts_one_queued_trial_once(study):
    study.enqueue_trial({"lr": 0.01})
    (queued,) = study.get_trials(states=(TrialState.WAITING,))
    assert compat.claim_trial(study, queued) is not None
    assert compat.claim_trial(study, queued) is None  # another worker's already


def test_group_view_sees_one_group(study):
    for baseline in (True, False, False):
        trial = study.ask()
        trial.set_user_attr("baseline", baseline)
        study.tell(trial, 0.5)
    baselines = compat.group_view(study, lambda t: t.user_attrs["baseline"])
    assert len(baselines.get_trials()) == 1
    assert len(compat.group_view(study, lambda t: not t.user_attrs["baseline"]).get_trials()) == 2
    assert len(study.get_trials()) == 3  # the real study is untouched


def test_contains():
    assert compat.contains(FloatDistribution(0.0, 1.0), 0.5) and not compat.contains(FloatDistribution(0.0, 1.0), 2.0)
    assert compat.contains(IntDistribution(1, 9, step=2), 3) and not compat.contains(IntDistribution(1, 9, step=2), 4)
    assert compat.contains(CategoricalDistribution(["kd", "dkd"]), "dkd")
    assert not compat.contains(CategoricalDistribution(["kd", "dkd"]), "ttm")


def test_set_user_attrs_writes_them_all_in_one_go(study):
    trial = study.ask()
    compat.set_user_attrs(trial, {"a": 1, "b": [0.5, 0.25], "c": "x"})
    compat.set_user_attrs(trial, {"a": 2})  # an update of one already there
    assert study.trials[0].user_attrs == {"a": 2, "b": [0.5, 0.25], "c": "x"}
    in_memory = optuna.create_study()
    other = in_memory.ask()
    compat.set_user_attrs(other, {"a": 1})
    assert in_memory.trials[0].user_attrs == {"a": 1}


def test_write_trial_overwrites_rows_its_worker_did_not_know_of(study):
    """Rows this worker wrote are updated without a query; one written behind its back (here by
    the storage directly) makes the insert collide, and the write looks every key up instead."""
    trial = study.ask()
    compat.write_trial(trial, {1: 0.5}, {"a": 1})
    study._storage.set_trial_user_attr(trial._trial_id, "b", "elsewhere")
    study._storage.set_trial_intermediate_value(trial._trial_id, 2, 0.125)
    compat.write_trial(trial, {1: 0.75, 2: 0.25, 3: 0.5}, {"a": 2, "b": "here", "c": 3})
    stored = study._storage.get_trial(trial._trial_id)
    assert stored.user_attrs == {"a": 2, "b": "here", "c": 3}
    assert stored.intermediate_values == {1: 0.75, 2: 0.25, 3: 0.5}


def test_set_user_attrs_refuses_a_finished_trial(study):
    trial = study.ask()
    study.tell(trial, 0.5)
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        compat.set_user_attrs(trial, {"a": 1})


def test_write_intermediate_values_is_what_report_writes(study):
    reported, written = study.ask(), study.ask()
    for step, value in ((1, 0.25), (2, float("nan")), (3, float("inf"))):
        reported.report(value, step=step)
    compat.write_intermediate_values(written, {1: 0.25, 2: float("nan")})
    compat.write_intermediate_values(written, {2: float("nan"), 3: float("inf")})  # a step again: kept once
    by_number = {t.number: t.intermediate_values for t in study.get_trials()}
    assert str(by_number[written.number]) == str(by_number[reported.number])
    assert written.should_prune() is False  # what Trial keeps of its reports follows (no exception, no re-read)
    study.tell(written, 0.5)
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        compat.write_intermediate_values(written, {4: 0.5})
    in_memory = optuna.create_study()
    other = in_memory.ask()
    compat.write_intermediate_values(other, {1: 0.5})
    assert in_memory.trials[0].intermediate_values == {1: 0.5}


def test_prune_view_answers_as_should_prune(study):
    study.pruner = optuna.pruners.MedianPruner(n_startup_trials=1)
    for value in (0.2, 0.6):
        done = study.ask()
        for step in range(1, 4):
            done.report(value, step=step)
        study.tell(done, value)
    view = compat.PruneView(study, check_seconds=60.0, refresh_seconds=60.0)
    low, high = study.ask(), study.ask()
    for trial, value in ((low, 0.1), (high, 0.9)):
        for step in range(1, 4):
            trial.report(value, step=step)
    assert view.decide([low, high], lambda t: t._cached_frozen_trial.intermediate_values) == [
        low.should_prune(),
        high.should_prune(),
    ]


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_add_storage_service_serves_a_storage():
    grpc = pytest.importorskip("grpc")
    from concurrent.futures import ThreadPoolExecutor

    storage = optuna.storages.InMemoryStorage()
    server = grpc.server(ThreadPoolExecutor(max_workers=2))
    compat.add_storage_service(storage, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        proxy = optuna.storages.GrpcStorageProxy(host="127.0.0.1", port=port)
        optuna.create_study(storage=proxy, study_name="served")
        assert [s.study_name for s in storage.get_all_studies()] == ["served"]
        proxy.close()
    finally:
        server.stop(0)


def test_count_states_is_what_the_trials_say(study):
    for value in (0.1, 0.2):
        study.tell(study.ask(), value)
    study.tell(study.ask(), state=TrialState.PRUNED)
    study.ask()
    study.enqueue_trial({"lr": 0.01})
    expected = {s: sum(t.state == s for t in study.get_trials()) for s in TrialState}
    assert compat.count_states(study) == expected
    assert compat.count_states(study, below=2) == {**dict.fromkeys(TrialState, 0), TrialState.COMPLETE: 2}
    in_memory = optuna.create_study()
    in_memory.tell(in_memory.ask(), 0.5)
    assert compat.count_states(in_memory)[TrialState.COMPLETE] == 1


def test_pruner_inputs_counts_complete_trials_and_rungs(study):
    assert compat.pruner_inputs(study) == (0, 0)
    done = study.ask()
    study._storage.set_trial_system_attr(done._trial_id, "completed_rung_0", 0.5)
    study._storage.set_trial_system_attr(done._trial_id, "fixed_params", {})  # not a rung: not counted
    study.tell(done, 0.5)
    study.tell(study.ask(), state=TrialState.PRUNED)
    study.ask()
    assert compat.pruner_inputs(study) == (1, 1)
    assert compat.pruner_inputs(optuna.create_study()) is None  # in memory: no such query


def test_tell_is_study_tell(study):
    """compat.tell stores and returns what Study.tell(..., skip_if_finished=True) does."""
    study.pruner = optuna.pruners.NopPruner()

    def pair(report=(), attrs=None):
        trials = [study.ask(), study.ask()]
        for t in trials:
            t.suggest_float("x", 0, 1)
            for step, value in enumerate(report):
                compat.write_intermediate_values(t, {step: value})
            compat.set_user_attrs(t, attrs or {})
        return trials

    def same(a, b):
        keep = ("_trial_id", "_number", "_datetime_start", "datetime_complete", "_params", "_distributions")
        a, b = ({k: v for k, v in t.__dict__.items() if k not in keep} for t in (a, b))
        assert str(a) == str(b)  # nan != nan

    for values, state, report in (
        (0.75, TrialState.COMPLETE, (0.5,)),
        (None, TrialState.PRUNED, (0.25, 0.5)),
        (None, TrialState.PRUNED, (0.25, float("nan"))),  # a nan last report: no value, as Optuna's
        (None, TrialState.PRUNED, ()),
        (None, TrialState.FAIL, (0.5,)),
    ):
        ours, optunas = pair(report, {"a": 1})
        told = compat.tell(study, ours, values, state)
        reference = study.tell(optunas, values, state=state, skip_if_finished=True)
        same(told, reference)
        same(told, study._storage.get_trial(ours._trial_id))
    ours, optunas = pair()
    for t in (ours, optunas):  # finished meanwhile by another worker: left as it is, returned as stored
        study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
    same(compat.tell(study, ours, 0.5, TrialState.COMPLETE), study.tell(optunas, 0.5, skip_if_finished=True))
    ours, optunas = pair()
    for tell in (
        lambda: compat.tell(study, ours, float("nan"), TrialState.COMPLETE),
        lambda: study.tell(optunas, float("nan"), state=TrialState.COMPLETE),
    ):
        with pytest.raises(ValueError):
            tell()
    with pytest.raises(ValueError):
        compat.tell(study, ours, None, TrialState.COMPLETE)


def test_prune_is_the_median_pruners_decision():
    """compat.prune decides as MedianPruner.prune over many random studies: both directions,
    nan and infinite reports, startup, warm-up, interval and min-trials settings, ties."""
    import random

    rng = random.Random(0)
    decided = {True: 0, False: 0}
    pool = [0.5, 0.25, 0.75, float("nan"), float("inf"), -float("inf")]

    def value():
        return rng.choice(pool) if rng.random() < 0.15 else round(rng.random(), rng.choice([1, 2, 6]))

    for case in range(1000):
        direction = rng.choice(["maximize", "minimize"])
        study = optuna.create_study(direction=direction)
        for _ in range(rng.randint(0, 12)):
            steps = rng.sample(range(8), rng.randint(0, 8))
            study.add_trial(optuna.trial.create_trial(value=0.5, intermediate_values={s: value() for s in steps}))
        pruner = optuna.pruners.MedianPruner(
            n_startup_trials=rng.randint(0, 4),
            n_warmup_steps=rng.randint(0, 3),
            interval_steps=rng.randint(1, 3),
            n_min_trials=rng.randint(1, 4),
        )
        steps = sorted(rng.sample(range(8), rng.randint(0, 6)))
        trial = optuna.trial.create_trial(state=TrialState.RUNNING, intermediate_values={s: value() for s in steps})
        with np.errstate(invalid="ignore"):  # numpy's percentile of inf and -inf: nan, and it says so
            expected = pruner.prune(study, trial)
        assert compat.prune(pruner, study, trial) == expected, case
        decided[expected] += 1
    assert min(decided.values()) > 50  # both answers were exercised
    tie = optuna.create_study(direction="maximize")  # a trial level with the median is kept
    for v in (0.25, 0.5, 0.75):
        tie.add_trial(optuna.trial.create_trial(value=v, intermediate_values={1: v}))
    level = optuna.trial.create_trial(state=TrialState.RUNNING, intermediate_values={1: 0.5})
    median = optuna.pruners.MedianPruner(n_startup_trials=0)
    assert compat.prune(median, tie, level) is bool(median.prune(tie, level)) is False
    other = optuna.pruners.PercentilePruner(25.0)  # any other pruner: its own decision
    assert compat.prune(other, optuna.create_study(), optuna.trial.create_trial(state=TrialState.RUNNING)) is False


def test_shared_read_answers_from_the_trial_cache(study, monkeypatch):
    for x in (0.1, 0.5, 0.9):
        study.enqueue_trial({"x": x})
        trial = study.ask()
        trial.suggest_float("x", 0, 1)
        study.tell(trial, x)
    running = study.ask()
    study._get_trials(deepcopy=False, use_cache=True)  # what infer_relative_search_space reads through
    reads = []
    original = type(study._storage).get_all_trials
    monkeypatch.setattr(type(study._storage), "get_all_trials", lambda *a, **k: reads.append(1) or original(*a, **k))
    view = compat.shared_read(study)
    assert [t.number for t in view._get_trials(deepcopy=False, use_cache=False)] == [0, 1, 2, 3]
    assert reads == []
    frozen = study._storage.get_trial(running._trial_id)
    space = {"x": FloatDistribution(0, 1)}
    samplers = [
        optuna.samplers.TPESampler(seed=1, n_startup_trials=2, multivariate=True, constant_liar=True) for _ in range(2)
    ]
    drawn = samplers[0].sample_relative(view, frozen, space)
    assert drawn == samplers[1].sample_relative(study, frozen, space) and set(drawn) == {"x"}
    assert len(reads) == 1  # only the plain study read again


class _SharedReadTPE(optuna.samplers.BaseSampler):
    """A sampler that reads the study as BaselineRouter does: a new read per trial, shared."""

    def __init__(self, inner):
        self._inner = inner

    def infer_relative_search_space(self, study, trial):
        compat.new_read(study)
        return self._inner.infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        return self._inner.sample_relative(compat.shared_read(study), trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self._inner.sample_independent(study, trial, param_name, param_distribution)


def test_a_batch_sampled_through_the_shared_read_draws_as_optuna_does(tmp_path):
    """Optuna samples lazily: a batch asks its members, then samples them one after another. Each
    member's shared read must be made for it, holding the params its siblings drew before it
    (TPE's constant liar lies about them), or every member draws alike."""

    def tpe():
        return optuna.samplers.TPESampler(seed=3, n_startup_trials=2, multivariate=True, constant_liar=True)

    drawn = []
    for i, sampler in enumerate((tpe(), _SharedReadTPE(tpe()))):
        storage = compat.AtomicClaimStorage(f"sqlite:///{tmp_path / f'b{i}.db'}")
        study = optuna.create_study(storage=storage, sampler=sampler, direction="maximize")
        for x in (0.1, 0.5, 0.9):
            study.enqueue_trial({"x": x, "y": 1.0 - x})
            trial = study.ask()
            study.tell(trial, trial.suggest_float("x", 0, 1) + trial.suggest_float("y", 0, 1))
        batch = [study.ask() for _ in range(4)]
        drawn.append([(t.suggest_float("x", 0, 1), t.suggest_float("y", 0, 1)) for t in batch])
    assert drawn[0] == drawn[1]
    assert len(set(drawn[1])) == 4
