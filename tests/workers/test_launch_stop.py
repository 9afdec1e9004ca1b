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

    trials = harness.trials()
    assert not [t.number for t in trials if t.state == TrialState.RUNNING]
    interrupted = [t for t in trials if t.state == TrialState.FAIL]
    assert interrupted, "no trial was interrupted"
    assert len(finished(trials)) < TOTAL
    queued = {  # the retries (the other queued trials are baseline trials not started yet)
        t.user_attrs["retry_of"]: t for t in trials if t.state == TrialState.WAITING and "retry_of" in t.user_attrs
    }
    for t in interrupted:
        assert t.user_attrs["fail_reason"] == "worker stopped by SIGTERM"
        assert t.number in queued, f"trial {t.number} was not queued again"
        assert queued[t.number].system_attrs["fixed_params"] == t.params
    assert "run the same command to resume" in harness.log("launch.log")

    code = harness.run("launch", study, "--workers", "2", "--log-dir", "logs2", log="relaunch.log", timeout=90)
    assert code == 0, harness.log("relaunch.log")
    trials = harness.trials()
    assert_complete_study(trials, TOTAL)
    by_number = {t.number: t for t in trials}
    for number, retry in queued.items():
        assert by_number[retry.number].state in (TrialState.COMPLETE, TrialState.PRUNED)
        assert by_number[retry.number].params == by_number[number].params
    for log in ("logs/worker-0.log", "logs/worker-1.log", "logs2/worker-0.log", "logs2/worker-1.log"):
        assert_clean_log(harness.log(log), log)
