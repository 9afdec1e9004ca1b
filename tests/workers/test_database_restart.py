"""The database restarts while workers run: no completed trial is lost, the workers wait for it
(or exit with one clear sentence), and a re-launch completes the study.

The test runs its own PostgreSQL cluster so that stopping it disturbs no other test.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from optuna.trial import TrialState

from tests.workers.harness import (
    PrivatePostgres,
    StudyHarness,
    assert_clean_log,
    assert_complete_study,
    free_port,
)

pytestmark = pytest.mark.integration

TOTAL = 10
PASSWORD = "restart-pw-7"
OUTAGE = 3.0  # seconds the server stays down


@pytest.fixture
def server() -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres(free_port())
    pg.start()
    try:
        yield pg
    finally:
        pg.remove()


@pytest.mark.timeout(180)
def test_workers_survive_a_database_restart(tmp_path, teacher_cache, server):
    harness = StudyHarness(tmp=tmp_path, url=server.url(PASSWORD), cache_dir=teacher_cache)
    try:
        _restart_mid_study(harness, server)
    finally:
        harness.close()


def _restart_mid_study(harness: StudyHarness, server: PrivatePostgres) -> None:
    study = harness.write_study(trials=TOTAL, epochs=6, batch_size=4)  # trials of about a second
    launcher = harness.start("launch", study, "--workers", "2", "--log-dir", "logs", log="launch.log")
    trials = harness.wait_for(
        lambda trials: (
            sum(t.state == TrialState.COMPLETE for t in trials) >= 2
            and any(t.state == TrialState.RUNNING for t in trials)
            and trials
        ),
        90,
        "two completed trials and one running",
    )
    completed_before = {t.number: t.value for t in trials if t.state == TrialState.COMPLETE}

    harness.disconnect()  # the test's own reader: its pooled connection would not survive
    server.stop()
    time.sleep(OUTAGE)
    server.start()
    code = launcher.wait(120)

    text = harness.log("launch.log") + "".join(harness.log(f"logs/worker-{i}.log") for i in range(2))
    assert PASSWORD not in text
    if code != 0:  # allowed, if said in one sentence; then a re-launch must finish the study
        assert [line for line in text.splitlines() if line.startswith("error:")], text
        assert "Traceback" not in text, text
        assert harness.run("launch", study, "--workers", "2", log="relaunch.log", timeout=90) == 0
    else:
        for i in range(2):
            assert_clean_log(harness.log(f"logs/worker-{i}.log"), f"worker-{i}.log")
        assert "database unreachable" in text  # the outage was seen, and survived

    assert_complete_study(harness.all_trials(), TOTAL)
    trials = harness.trials()  # the search study's own: the trials above were seen there
    by_number = {t.number: t for t in trials}
    for number, value in completed_before.items():
        assert by_number[number].state == TrialState.COMPLETE and by_number[number].value == value
