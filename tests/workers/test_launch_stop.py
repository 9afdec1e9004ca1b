"""SIGTERM to ``tempopt launch``: exit 143, interrupted trials queued again, a re-launch ends
the study with exactly its budget."""

from __future__ import annotations

import signal

import pytest
from optuna.trial import TrialState

from tests.workers.harness import SLOW, any_running_epoch, assert_clean_log, assert_complete_study, finished

pytestmark = pytest.mark.integration

TOTAL = 6


@pytest.mark.timeout(150)
def test_sigterm_requeues_the_running_trials_and_a_relaunch_completes(harness):
    study = harness.write_study(trials=TOTAL, **SLOW)
    launcher = harness.start("launch", study, "--workers", "2", "--log-dir", "logs", log="launch.log")
    harness.wait_for(any_running_epoch, 90, "a running trial with an epoch reported")

    harness.signal(launcher, signal.SIGTERM)
    assert launcher.wait(60) == 143, harness.log("launch.log")

    trials = harness.all_trials()  # the interrupted trials may be the baseline's or the search's
    assert not [t.number for t in trials if t.state == TrialState.RUNNING]
    interrupted = [t for t in trials if t.state == TrialState.FAIL]
    assert interrupted, "no trial was interrupted"
    assert len(finished(trials)) < TOTAL
    queued = {  # the retries (the other queued trials are baseline trials not started yet), by study and number
        _key(t, t.user_attrs["retry_of"]): t
        for t in trials
        if t.state == TrialState.WAITING and "retry_of" in t.user_attrs
    }
    for t in interrupted:
        assert t.user_attrs["fail_reason"] == "worker stopped by SIGTERM"
        assert _key(t) in queued, f"trial {t.number} was not queued again"
        assert queued[_key(t)].system_attrs["fixed_params"] == t.params
    assert "run the same command to resume" in harness.log("launch.log")

    code = harness.run("launch", study, "--workers", "2", "--log-dir", "logs2", log="relaunch.log", timeout=90)
    assert code == 0, harness.log("relaunch.log")
    trials = harness.all_trials()
    assert_complete_study(trials, TOTAL)
    by_key = {_key(t): t for t in trials}
    for key, retry in queued.items():
        assert by_key[_key(retry)].state in (TrialState.COMPLETE, TrialState.PRUNED)
        assert by_key[_key(retry)].params == by_key[key].params
    for log in ("logs/worker-0.log", "logs/worker-1.log", "logs2/worker-0.log", "logs2/worker-1.log"):
        assert_clean_log(harness.log(log), log)


def _key(trial, number=None):
    """A trial by study (the search, or its baseline sibling: each numbers its own) and number."""
    return trial.user_attrs.get("baseline") is True, trial.number if number is None else number
