"""Workers SIGKILLed mid-trial: their trials fail, are retried with the same params, and the
study still ends with exactly its budget — also when the killed worker was the last one."""

from __future__ import annotations

import signal

import pytest
from optuna.trial import FrozenTrial, TrialState

from tests.workers.harness import BACKENDS, SLOW, assert_clean_log, assert_complete_study, finished, running_epoch_of

pytestmark = pytest.mark.integration

TOTAL = 8


def running_of(trials: list[FrozenTrial], pid: int) -> FrozenTrial | None:
    """The trial that worker ``pid`` left RUNNING, if any."""
    mine = [t for t in trials if str(t.user_attrs.get("worker", "")).endswith(f":{pid}")]
    return next((t for t in mine if t.state == TrialState.RUNNING), None)


def _retries_of(trials: list[FrozenTrial], number: int) -> list[FrozenTrial]:
    return [t for t in trials if t.system_attrs.get("failed_trial") == number]


@pytest.mark.timeout(150)
@pytest.mark.parametrize("backend", BACKENDS)
def test_killed_trials_are_retried_even_when_no_worker_is_left(harness):
    study = harness.write_study(trials=TOTAL, **SLOW)
    first = harness.start("run", study, "--quiet", "--worker-index", "0", log="w0.log")
    second = harness.start("run", study, "--quiet", "--worker-index", "1", log="w1.log")

    killed = []
    for proc in (first, second):  # the second one is the last worker standing when it dies
        harness.wait_for(running_epoch_of(proc.pid), 90, f"an epoch of a trial of pid {proc.pid}")
        harness.signal(proc, signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
        # the trial the kill interrupted: read after the kill, since the one seen running may have ended
        trial = running_of(harness.trials(), proc.pid)
        assert trial is not None, f"no trial of pid {proc.pid} was left RUNNING by the kill"
        killed.append(trial)
    assert not finished(harness.trials()) or len(finished(harness.trials())) < TOTAL

    assert harness.run("run", study, "--quiet", log="resume.log", timeout=90) == 0, harness.log("resume.log")

    assert_complete_study(harness.all_trials(), TOTAL)
    trials = harness.trials()  # the search study's own: the trials above were seen there
    by_number = {t.number: t for t in trials}
    for dead in killed:
        assert by_number[dead.number].state == TrialState.FAIL
        retries = _retries_of(trials, dead.number)
        assert len(retries) == 1, f"trial {dead.number} was retried {len(retries)} times"
        assert retries[0].params == dead.params
        assert retries[0].state in (TrialState.COMPLETE, TrialState.PRUNED)
    assert_clean_log(harness.log("resume.log"), "resume.log")
