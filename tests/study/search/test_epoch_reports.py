"""``EpochReports``: a job's reports written together and its pruning decided from one read, with
the same stored values and the same decisions as ``trial.report`` + ``trial.should_prune``."""

from __future__ import annotations

import random
import time

import optuna
import pytest
from optuna.trial import TrialState

from tempopt.study.optuna_internals import PruneView
from tempopt.study.search.epoch_reports import EpochReports
from tempopt.study.search.space import make_pruner
from tempopt.study.spec.model import StudySpec
from tempopt.study.storage.opening import open_storage

EPOCHS = 8


def _curve(rng: random.Random) -> list[float]:
    level, rate = rng.uniform(0.2, 0.9), rng.uniform(0.05, 0.4)
    return [level * (1 - (1 - rate) ** epoch) + rng.uniform(-0.02, 0.02) for epoch in range(1, EPOCHS + 1)]


PRUNERS = {
    "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
    "sha": lambda: optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=2),
    "hyperband": lambda: optuna.pruners.HyperbandPruner(min_resource=1, max_resource=EPOCHS, reduction_factor=2),
    "tempopt median": lambda: make_pruner(
        StudySpec(
            name="p",
            task="digits",
            epochs=EPOCHS,
            trials=14,
            search={"kd_weight": {"low": 0.0, "high": 1.0}, "lr": {"low": 0.001, "high": 0.1}},
            pruner={"name": "median", "warmup_epochs": 2, "startup_trials": 2},
        )
    ),
}


def _run(study: optuna.Study, curves: list[list[float]], batch: int, reported: bool) -> None:
    """Run the trials ``batch`` at a time: with Optuna's calls, or with EpochReports and one view
    (checked for other workers' changes at every decision)."""
    view = PruneView(study, check_seconds=0.0, refresh_seconds=60.0)
    for first in range(0, len(curves), batch):
        trials = [study.ask() for _ in curves[first : first + batch]]
        for i, trial in enumerate(trials):
            trial.set_user_attr("baseline", (first + i) % 5 == 0)  # tempopt's pruner compares within a group
        running = list(range(len(trials)))
        with EpochReports(trials, view, flush_seconds=60.0) as reports:
            for epoch in range(1, EPOCHS + 1):
                for i in running:
                    value = curves[first + i][epoch - 1]
                    trials[i].report(value, step=epoch) if reported else reports.report(trials[i], epoch, value)
                asked = [trials[i] for i in running]
                prune = [t.should_prune() for t in asked] if reported else reports.should_prune(asked)
                running = [i for i, p in zip(running, prune, strict=True) if not p]
        done = [  # told once the job has ended, as tempopt does
            study.tell(t, curves[first + i][-1]) if i in running else study.tell(t, state=TrialState.PRUNED)
            for i, t in enumerate(trials)
        ]
        view.finished(done)


@pytest.mark.parametrize("name", list(PRUNERS))
@pytest.mark.parametrize("batch", [1, 3])
def test_the_same_values_and_decisions_as_report_and_should_prune(tmp_path, name, batch):
    rng = random.Random(7)
    curves = [_curve(rng) for _ in range(14)]
    studies = []
    for reported in (True, False):
        storage = open_storage(f"sqlite:///{tmp_path / f'{reported}.db'}")
        study = optuna.create_study(storage=storage, study_name="s", direction="maximize", pruner=PRUNERS[name]())
        _run(study, curves, batch, reported)
        studies.append(study.get_trials())
    ours, optunas = studies[1], studies[0]
    assert [t.state for t in ours] == [t.state for t in optunas]
    assert any(t.state == TrialState.PRUNED for t in ours) and any(t.state == TrialState.COMPLETE for t in ours)
    assert [t.intermediate_values for t in ours] == [t.intermediate_values for t in optunas]
    assert [t.system_attrs for t in ours] == [t.system_attrs for t in optunas]  # successive halving's rungs


@pytest.mark.parametrize("name", ["median", "sha"])
def test_a_lone_worker_reads_the_study_once(tmp_path, name):
    """Checked at every decision, its own trials completing and its own rungs never count as
    another worker's change: one read for all its trials."""
    study = optuna.create_study(
        storage=open_storage(f"sqlite:///{tmp_path / 'r.db'}"), direction="maximize", pruner=PRUNERS[name]()
    )
    view, reads = PruneView(study, check_seconds=0.0, refresh_seconds=60.0), []
    original = view._snapshot.read
    view._snapshot.read = lambda: reads.append(1) or original()
    rng = random.Random(5)
    for _ in range(6):
        trial = study.ask()
        curve = _curve(rng)
        with EpochReports([trial], view) as reports:
            for epoch, value in enumerate(curve, start=1):
                reports.report(trial, epoch, value)
                if reports.should_prune([trial])[0]:
                    break
        view.finished([study.tell(trial, curve[-1])])
    assert len(reads) == 1
    assert all(len(t.intermediate_values) >= 1 for t in study.get_trials())


def test_the_worst_of_a_batch_is_pruned_from_one_read(tmp_path):
    study = optuna.create_study(
        storage=open_storage(f"sqlite:///{tmp_path / 'b.db'}"),
        direction="maximize",
        pruner=optuna.pruners.MedianPruner(n_startup_trials=0),
    )
    _run(study, [[0.5] * EPOCHS] * 2, 1, reported=False)  # two finished trials to compare with
    trials = [study.ask() for _ in range(3)]
    storage, reads = study._storage, []
    original = storage.get_all_trials
    storage.get_all_trials = lambda *a, **k: reads.append(a) or original(*a, **k)
    with EpochReports(trials, PruneView(study, check_seconds=60.0, refresh_seconds=60.0)) as reports:
        for epoch in range(1, EPOCHS + 1):
            for i, trial in enumerate(trials):
                reports.report(trial, epoch, 0.3 * i)
            decisions = reports.should_prune(trials)
    storage.get_all_trials = original
    assert len(reads) == 1
    assert decisions == [True, True, False]  # below the median of the finished trials (0.5): pruned
    assert all(len(t.intermediate_values) == EPOCHS for t in study.get_trials(states=(TrialState.RUNNING,)))


def test_another_workers_trial_is_seen_at_the_next_read(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    pruner = optuna.pruners.MedianPruner(n_startup_trials=1)
    study = optuna.create_study(storage=open_storage(url), study_name="w", direction="maximize", pruner=pruner)
    other = optuna.load_study(study_name="w", storage=open_storage(url))
    view = PruneView(study, check_seconds=0.0, refresh_seconds=60.0)  # checked at every decision
    trial = study.ask()
    with EpochReports([trial], view) as reports:
        reports.report(trial, 1, 0.5)
        assert reports.should_prune([trial]) == [False]  # nothing to compare with
        better = other.ask()
        better.report(0.9, step=1)
        other.tell(better, 0.9)
        assert reports.should_prune([trial]) == [True]


def test_values_wait_at_most_flush_seconds_and_all_are_written_at_the_end(tmp_path):
    study = optuna.create_study(storage=open_storage(f"sqlite:///{tmp_path / 'f.db'}"), direction="maximize")
    slow, fast = study.ask(), study.ask()
    stored = lambda t: study.get_trials()[t.number].intermediate_values  # noqa: E731
    with EpochReports([slow], flush_seconds=3600.0, first_flush_seconds=0.0) as reports:
        reports.report(slow, 1, 0.1)
        assert stored(slow) == {1: 0.1}  # the first epoch once the job has run the first wait: seen training
        for epoch, value in ((2, 0.2), (2, 0.7), (3, 0.3)):  # a step again keeps its first value, as trial.report
            reports.report(slow, epoch, value)
        assert stored(slow) == {1: 0.1}
    assert stored(slow) == pytest.approx({1: 0.1, 2: 0.2, 3: 0.3})
    pair = [study.ask(), study.ask()]
    with EpochReports(pair, flush_seconds=3600.0, first_flush_seconds=0.0) as reports:
        reports.report(pair[0], 1, 0.5)
        assert stored(pair[0]) == {}  # a batch's first epoch is written once every member has it
        reports.report(pair[1], 1, 0.6)
        assert [stored(t) for t in pair] == [{1: 0.5}, {1: 0.6}]
    with EpochReports([fast], flush_seconds=0.0, first_flush_seconds=0.0) as reports:
        reports.report(fast, 1, 0.4)
        assert stored(fast) == {1: 0.4}  # written at once
    short = study.ask()
    with EpochReports([short]) as reports:  # the defaults: a job shorter than the first wait writes once, at its end
        for epoch in (1, 2):
            reports.report(short, epoch, 0.5)
        assert stored(short) == {}
        reports.attach(short, {"job_seconds": 0.01})  # with what the job measured, in the same write
    assert stored(short) == {1: 0.5, 2: 0.5} and study.get_trials()[short.number].user_attrs == {"job_seconds": 0.01}
    late = study.ask()
    with EpochReports([late], first_flush_seconds=0.05) as reports:
        reports.report(late, 1, 0.5)
        time.sleep(0.06)
        reports.report(late, 2, 0.6)
        assert stored(late) == {1: 0.5, 2: 0.6}  # the first wait has passed: written


def test_a_failed_job_keeps_its_values_and_its_error(tmp_path):
    study = optuna.create_study(storage=open_storage(f"sqlite:///{tmp_path / 'e.db'}"), direction="maximize")
    trial = study.ask()
    with pytest.raises(RuntimeError, match="boom"):
        with EpochReports([trial], flush_seconds=3600.0) as reports:
            reports.report(trial, 1, 0.5)
            raise RuntimeError("boom")
    assert study.get_trials()[0].intermediate_values == {1: 0.5}
    finished = study.ask()
    with pytest.raises(RuntimeError, match="boom"):  # a write that fails too never hides the job's error
        with EpochReports([finished], flush_seconds=3600.0) as reports:
            reports.report(finished, 1, 0.5)
            study.tell(finished, 0.5)
            raise RuntimeError("boom")


def test_a_trial_another_worker_failed_stops_at_the_write(tmp_path):
    study = optuna.create_study(storage=open_storage(f"sqlite:///{tmp_path / 'x.db'}"), direction="maximize")
    trial = study.ask()
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        with EpochReports([trial], flush_seconds=3600.0) as reports:
            reports.report(trial, 1, 0.5)
            study.tell(trial, state=TrialState.FAIL)  # as the dead-trial sweep of another worker would
            reports.report(trial, 2, 0.6)


@pytest.mark.integration
@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used")
@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_the_same_on_server_databases(tmp_path, backend):
    from tests.workers.harness import fresh_database

    rng = random.Random(3)
    curves = [_curve(rng) for _ in range(8)]
    with fresh_database(backend, tmp_path) as url:
        studies = []
        for reported in (True, False):
            storage = open_storage(url)
            name = f"s{reported}"
            pruner = PRUNERS["sha"]()
            study = optuna.create_study(storage=storage, study_name=name, direction="maximize", pruner=pruner)
            _run(study, curves, 2, reported)
            studies.append(study.get_trials())
            storage.engine.dispose()
    assert [(t.state, t.intermediate_values, t.system_attrs) for t in studies[1]] == [
        (t.state, t.intermediate_values, t.system_attrs) for t in studies[0]
    ]
