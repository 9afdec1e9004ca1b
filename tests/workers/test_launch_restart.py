"""A worker of ``tempopt launch`` killed outright: the launcher restarts it, its trial is
failed after the grace period and retried with the same params, and the launch still ends with
exactly the study's budget."""

from __future__ import annotations

import os
import signal

import pytest
from optuna.trial import TrialState

from tests.workers.harness import SLOW, any_running_epoch, assert_complete_study

pytestmark = pytest.mark.integration

TOTAL = 6


@pytest.mark.timeout(150)
def test_a_killed_worker_is_restarted_and_its_trial_retried(harness):
    study = harness.write_study(trials=TOTAL, **SLOW)
    launcher = harness.start("launch", study, "--workers", "2", "--log-dir", "logs", log="launch.log")
    seen = harness.wait_for(any_running_epoch, 90, "a running trial with an epoch reported")
    pid = int(seen.user_attrs["worker"].rsplit(":", 1)[1])
    os.kill(pid, signal.SIGKILL)
    mine = [t for t in harness.trials() if t.user_attrs.get("worker") == seen.user_attrs["worker"]]
    killed = next((t for t in mine if t.state == TrialState.RUNNING), None)
    assert killed is not None, "the kill interrupted no trial"

    assert launcher.wait(120) == 0, harness.log("launch.log")
    logs = harness.log("logs/worker-0.log") + harness.log("logs/worker-1.log")
    assert "died (SIGKILL); restarting" in logs
    assert_complete_study(harness.all_trials(), TOTAL)
    trials = harness.trials()  # the search study's own: the trials above were seen there
    by_number = {t.number: t for t in trials}
    assert by_number[killed.number].state == TrialState.FAIL
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retries) == 1 and retries[0].params == killed.params
    assert retries[0].state in (TrialState.COMPLETE, TrialState.PRUNED)
