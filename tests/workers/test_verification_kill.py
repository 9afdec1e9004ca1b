"""Verification is ordinary work: a worker SIGKILLed in the middle of a replicate loses nothing.

The killed replicate is failed once its heartbeat is stale, queued again with the same params
and seed, and the next ``tempopt run`` finishes the verification; the search is untouched.
"""

from __future__ import annotations

import signal

import pytest
from optuna.trial import TrialState

from tests.workers.harness import SLOW, any_running_epoch, assert_clean_log, assert_complete_study

pytestmark = pytest.mark.integration

TOTAL = 4
VERIFY = f"it:verify-{TOTAL}"


@pytest.mark.timeout(150)
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_worker_killed_during_verification_loses_nothing(harness):
    study = harness.write_study(trials=TOTAL, **SLOW, verify={"top_k": 1, "seeds": 2})
    worker = harness.start("run", study, "--quiet", log="w0.log")
    victim = harness.wait_for(any_running_epoch, 90, "a running replicate", study=VERIFY)
    harness.signal(worker, signal.SIGKILL)
    assert worker.wait(10) == -signal.SIGKILL
    search_before = [(t.number, t.state, t.value) for t in harness.trials()]

    assert harness.run("run", study, "--quiet", log="resume.log", timeout=90) == 0, harness.log("resume.log")
    assert_clean_log(harness.log("resume.log"), "resume.log")
    assert "verification: 4/4 replicates complete" in harness.log("resume.log")

    assert [(t.number, t.state, t.value) for t in harness.trials()] == search_before  # the search as it was
    assert_complete_study(harness.all_trials(), TOTAL)
    replicates = harness.trials(VERIFY)
    assert not [t for t in replicates if t.state == TrialState.RUNNING]
    dead = next(t for t in replicates if t.number == victim.number)
    assert dead.state == TrialState.FAIL
    retry = [t for t in replicates if t.system_attrs.get("failed_trial") == victim.number]
    assert len(retry) == 1 and retry[0].state == TrialState.COMPLETE
    assert retry[0].params == victim.params and retry[0].user_attrs["replicate"] == victim.user_attrs["replicate"]
    complete = sorted(t.user_attrs["replicate"] for t in replicates if t.state == TrialState.COMPLETE)
    assert complete == ["baseline-0-seed1", "baseline-0-seed2", "distilled-1-seed1", "distilled-1-seed2"]
    assert "verdict: " in harness.log("resume.log")
