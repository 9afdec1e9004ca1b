"""Trial times are right on hosts away from UTC, on SQLite and PostgreSQL: a claimed trial starts
now, a finished one lasts as long as it ran, the dead-trial sweep tells a fresh trial from a dead
one, and the report's timeline draws each trial when it ran.

Optuna stores a trial's times as naive UTC and reads them back as naive local time; a time
written in local time is off by the zone's offset, which is 0 in UTC: so every test here runs
west (Los Angeles, UTC-8/-7) and east (Tokyo, UTC+9) of it.
"""

from __future__ import annotations

import datetime
import subprocess
import sys
import time

import optuna
import pytest
import sqlalchemy
import yaml
from optuna.storages import RDBStorage
from optuna.trial import TrialState

from tempopt.analysis.report._figures import timeline
from tempopt.study.optuna_internals import claim_waiting, rdb_storage, start_new_trial
from tempopt.study.storage.heartbeats import fail_dead_trials
from tempopt.study.storage.opening import FailureHandling, open_storage
from tests.cli.conftest import tiny_spec
from tests.workers.harness import fresh_database, worker_env

ZONES = ["America/Los_Angeles", "Asia/Tokyo"]
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
_TRIALS = optuna.storages._rdb.models.TrialModel.__table__

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")


@pytest.fixture(params=ZONES)
def zone(request, monkeypatch):
    """The process's local time zone, for one test."""
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    assert datetime.datetime.now().astimezone().utcoffset() != datetime.timedelta(0)
    yield request.param
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(params=BACKENDS)
def url(request, tmp_path):
    with fresh_database(request.param, tmp_path) as url:
        yield url


def _study(url, failure=FailureHandling(60, 120, 0)):
    storage = open_storage(url, failure)
    return optuna.create_study(storage=storage, study_name="tz")


class Window:
    """Local (naive) times before and after what a test does, with a second's slack for databases
    that store whole seconds."""

    def __enter__(self):
        self.start = datetime.datetime.now() - datetime.timedelta(seconds=1)
        return self

    def __exit__(self, *exc):
        self.end = datetime.datetime.now() + datetime.timedelta(seconds=1)

    def holds(self, moment):
        return self.start <= moment <= self.end


def test_a_claimed_trial_starts_now_as_optunas_own_claim_does(zone, url):
    study = _study(url)
    study.enqueue_trial({"x": 1.0})
    study.enqueue_trial({"x": 2.0})
    ours, theirs = study.trials
    with Window() as window:
        claimed = claim_waiting(study)
        RDBStorage.set_trial_state_values(rdb_storage(study), theirs._trial_id, TrialState.RUNNING)
    assert claimed is not None and claimed._trial_id == ours._trial_id
    starts = {t._trial_id: t.datetime_start for t in study.get_trials()}
    assert window.holds(starts[ours._trial_id]), (starts, window.start)
    assert abs((starts[ours._trial_id] - starts[theirs._trial_id]).total_seconds()) < 2
    with rdb_storage(study).engine.connect() as conn:  # stored as Optuna stores it: naive UTC
        stored = conn.execute(sqlalchemy.select(_TRIALS.c.datetime_start)).scalars().all()
    utc_now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    assert all(abs((utc_now - s).total_seconds()) < 5 for s in stored), stored


@pytest.mark.parametrize("start", ["claimed", "fresh"])
def test_a_finished_trial_lasts_as_long_as_it_ran(zone, url, start):
    study = _study(url)
    study.enqueue_trial({"x": 1.0})
    began = time.monotonic()
    trial = claim_waiting(study) if start == "claimed" else start_new_trial(study)
    time.sleep(1.2)
    study.tell(trial, 1.0)
    ran = time.monotonic() - began
    (frozen,) = [t for t in study.get_trials() if t.state == TrialState.COMPLETE]
    assert 0.0 <= frozen.duration.total_seconds() <= ran + 1.0
    assert frozen.duration.total_seconds() >= 0.2  # (whole seconds on MariaDB: 1.2 s is at least 1)


def test_the_dead_trial_sweep_leaves_a_fresh_claim_alone_and_fails_a_dead_one(zone, url):
    """A trial claimed a moment ago without a heartbeat yet is alive; one claimed longer than the
    grace period ago, still without one, belongs to a worker that died right after claiming it."""
    fresh = _study(url, FailureHandling(60, 120, 0))
    fresh.enqueue_trial({"x": 1.0})
    assert claim_waiting(fresh) is not None
    assert fail_dead_trials(fresh) == []
    assert [t.state for t in fresh.get_trials()] == [TrialState.RUNNING]

    dying = optuna.create_study(storage=open_storage(url, FailureHandling(1, 1, 0)), study_name="dying")
    dying.enqueue_trial({"x": 1.0})
    assert claim_waiting(dying) is not None
    time.sleep(2.5)  # the grace period is 1 s; MariaDB rounds to seconds
    assert fail_dead_trials(dying) == [0]
    assert [t.state for t in dying.get_trials()] == [TrialState.FAIL]


def test_the_timeline_draws_each_trial_when_it_ran(zone, url):
    study = _study(url)
    study.enqueue_trial({"x": 1.0})
    with Window() as window:
        done = claim_waiting(study)
        study.tell(done, 1.0)
        running = start_new_trial(study)
        running.set_user_attr("worker", "w1")
    figure = timeline(study, None).figure  # (the timeline reads the study alone)
    bars = [(trace.name, base, width) for trace in figure.data for base, width in zip(trace.base, trace.x, strict=True)]
    assert sorted(name for name, _, _ in bars) == ["COMPLETE", "RUNNING"]
    for _, base, width in bars:
        start = datetime.datetime.fromisoformat(str(base))
        assert window.holds(start), (start, window.start, window.end)
        assert 0 <= width <= (window.end - window.start).total_seconds() * 1000  # milliseconds


@pytest.fixture(scope="module")
def teacher_cache(tmp_path_factory):
    """One teacher for the runs below: they differ in zone and database only."""
    return tmp_path_factory.mktemp("teacher")


@pytest.mark.integration
@pytest.mark.parametrize("zone_name", ZONES)
def test_a_study_run_away_from_utc_leaves_every_trial_inside_the_run(zone_name, url, tmp_path, teacher_cache):
    """``tempopt run`` as a user runs it, in another zone: every trial of every study it wrote
    (search, baselines, queued verification replicates) started and ended while it ran, and none failed."""
    spec = tmp_path / "study.yaml"
    spec.write_text(yaml.safe_dump(tiny_spec(tmp_path, trials=5, cache_dir=str(teacher_cache)), sort_keys=False))
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)
    run = subprocess.run(
        [sys.executable, "-m", "tempopt", "run", str(spec), "--storage", url, "-q"],
        env={**worker_env(), "TZ": zone_name},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    after = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1)
    assert run.returncode == 0, run.stdout + run.stderr
    storage = open_storage(url)
    names = optuna.get_all_study_names(storage)
    trials = [t for name in names for t in optuna.load_study(study_name=name, storage=storage).trials]
    assert len(trials) > 5  # the search's and the verification's
    for t in trials:  # read back in this process's zone: compared in UTC
        assert t.state != TrialState.FAIL, t
        assert before <= t.datetime_start.astimezone(datetime.timezone.utc) <= after, (t.number, t.datetime_start)
        assert t.datetime_start <= t.datetime_complete
        assert t.datetime_complete.astimezone(datetime.timezone.utc) <= after, (t.number, t.datetime_complete)
