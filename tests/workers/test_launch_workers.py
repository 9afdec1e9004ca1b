"""``tempopt launch`` with several workers on every backend: the budget is met exactly."""

from __future__ import annotations

import pytest

from tests.workers.harness import BACKENDS, StudyHarness, assert_clean_log, assert_complete_study, free_port

pytestmark = pytest.mark.integration

TOTAL = 12
PASSWORD = "s3cret-pw-42"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", BACKENDS)
def test_three_workers_finish_exactly_the_budget(harness):
    study = harness.write_study(trials=TOTAL, batch_size=8)  # trials long enough for every worker to get some
    code = harness.run("launch", study, "--workers", "3", "--log-dir", "logs", log="launch.log")

    assert code == 0, harness.log("launch.log")
    trials = harness.all_trials()
    assert_complete_study(trials, TOTAL)
    assert f"{TOTAL}/{TOTAL} finished" in harness.log("launch.log")
    workers = {t.user_attrs.get("worker") for t in trials if t.user_attrs.get("worker")}
    assert len(workers) >= 2, f"only {workers} ran trials: the test did not exercise several workers"
    for i in range(3):
        text = harness.log(f"logs/worker-{i}.log")
        assert_clean_log(text, f"worker-{i}.log")
        assert f"/{TOTAL} finished" in text  # every worker reached the end, none crashed
    assert_clean_log(harness.log("launch.log"), "launch.log")


@pytest.mark.timeout(60)
def test_launch_without_a_reachable_database_is_one_sentence_and_exit_3(tmp_path, teacher_cache):
    # MySQL: tests/study/storage/test_storage_urls.py
    url = f"postgresql://tempopt:{PASSWORD}@127.0.0.1:{free_port()}/tempopt"
    harness = StudyHarness(tmp=tmp_path, url=url, cache_dir=teacher_cache)
    study = harness.write_study()

    code = harness.run("launch", study, "--workers", "2", log="launch.log", timeout=50)

    text = harness.log("launch.log")
    assert code == 3, text
    assert PASSWORD not in text
    assert "Traceback" not in text
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, text
    assert "cannot reach the storage" in errors[0] and "127.0.0.1" in errors[0]
    assert errors[0].rstrip().endswith(".")
    assert not (tmp_path / "logs").exists() and not (tmp_path / ".tempopt-logs").exists()  # no worker started
