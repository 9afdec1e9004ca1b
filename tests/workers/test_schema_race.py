"""Several ``tempopt run`` started together on an empty database: the first creates the schema
and the study, the others wait for it; nobody fails, the baseline trials are queued once, and
the verification is planned once and run by all of them."""

from __future__ import annotations

import pytest
from optuna.trial import TrialState

from tests.workers.harness import assert_clean_log, assert_complete_study

pytestmark = pytest.mark.integration

TOTAL = 8
WORKERS = 4


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_workers_started_together_on_an_empty_database(harness):
    study = harness.write_study(trials=TOTAL)
    procs = [harness.start("run", study, "--quiet", "--worker-index", str(i), log=f"w{i}.log") for i in range(WORKERS)]
    codes = [p.wait(timeout=100) for p in procs]

    logs = "\n".join(harness.log(f"w{i}.log") for i in range(WORKERS))
    assert codes == [0] * WORKERS, logs
    for i in range(WORKERS):
        assert_clean_log(harness.log(f"w{i}.log"), f"w{i}.log")
    trials = harness.all_trials()
    assert_complete_study(trials, TOTAL)
    baseline = [t for t in trials if t.user_attrs.get("baseline")]
    assert len(baseline) == 4, f"{len(baseline)} baseline trials were queued"  # half of 8: queued once
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in baseline)
    names = harness.study_names()
    assert [n for n in names if n.startswith(f"{harness.name}:verify-")] == [f"{harness.name}:verify-{TOTAL}"]
    replicates = harness.trials(f"{harness.name}:verify-{TOTAL}")
    assert sorted(t.user_attrs["replicate"] for t in replicates) == ["baseline-0-seed1", "distilled-1-seed1"]
    assert all(t.state == TrialState.COMPLETE for t in replicates)
