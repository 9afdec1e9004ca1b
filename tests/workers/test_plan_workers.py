"""How ``tempopt launch`` splits the host between its workers, and the command each one runs."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from tempopt.launch import Launcher, launcher, plan_workers
from tempopt.launch.launcher import available_cores


def test_threads_are_split_evenly_and_never_below_one():
    assert [p.threads for p in plan_workers(2, cores=8)] == [4, 4]
    assert [p.threads for p in plan_workers(3, cores=8)] == [2, 2, 2]  # the remainder stays free
    assert [p.threads for p in plan_workers(4, cores=2)] == [1, 1, 1, 1]
    for plan in plan_workers(3, cores=8):
        assert plan.env["TEMPOPT_NUM_THREADS"] == "2"
        assert plan.env["OMP_NUM_THREADS"] == "2"


def test_one_worker_gets_every_core():
    (plan,) = plan_workers(1, cores=16)
    assert plan.threads == 16 and plan.index == 0


@pytest.mark.parametrize(
    ("workers", "gpus", "expected"),
    [
        (4, ["0", "1"], ["0", "1", "0", "1"]),  # round robin: two workers per GPU
        (3, ["2", "5", "7"], ["2", "5", "7"]),
        (2, ["3"], ["3", "3"]),
    ],
)
def test_gpus_are_dealt_round_robin_through_cuda_visible_devices(workers, gpus, expected):
    plans = plan_workers(workers, gpus, cores=8)
    assert [p.gpu for p in plans] == expected
    assert [p.env["CUDA_VISIBLE_DEVICES"] for p in plans] == expected  # each worker sees only its GPU
    assert [p.index for p in plans] == list(range(workers))


def test_without_gpus_cuda_visible_devices_is_left_alone():
    for plan in plan_workers(2, None, cores=4):
        assert plan.gpu is None
        assert "CUDA_VISIBLE_DEVICES" not in plan.env


def test_each_worker_is_a_pool_worker_on_the_one_study_with_its_own_index(tmp_path):
    plans = plan_workers(2, cores=2)
    url = "postgresql://u:pw@db/x"
    study = SimpleNamespace(study_name="quickstart-digits")
    launcher = Launcher(study, Path("/s/study.yaml"), url, 12, plans, tmp_path, device="cpu")  # type: ignore[arg-type]
    commands = [launcher.command(p) for p in plans]
    for i, cmd in enumerate(commands):
        assert cmd[:4] == [sys.executable, "-m", "tempopt", "worker"]
        assert cmd[cmd.index("--studies") + 1] == "quickstart-digits" and "--until-done" in cmd
        assert "--storage" not in cmd and url not in " ".join(cmd)  # no password in `ps`
        assert launcher.environment(plans[i])["TEMPOPT_STORAGE"] == url
        assert cmd[cmd.index("--worker-index") + 1] == str(i)
        assert cmd[cmd.index("--device") + 1] == "cpu"
    assert launcher.log_path(1) == tmp_path / "worker-1.log"


def test_the_default_share_is_of_the_cpus_this_process_may_use(monkeypatch):
    monkeypatch.setattr(launcher.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(launcher.os, "cpu_count", lambda: 64)  # the host: not ours to use
    monkeypatch.setattr(launcher, "_cgroup_cpu_quota", lambda: None)
    assert available_cores() == 4
    assert [p.threads for p in plan_workers(2)] == [2, 2]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("200000 100000\n", 2), ("150000 100000\n", 1), ("50000 100000", 1), ("max 100000\n", None), ("", None)],
)
def test_a_cgroup_quota_caps_the_cpus(tmp_path, text, expected):
    path = tmp_path / "cpu.max"
    path.write_text(text)
    assert launcher._cgroup_cpu_quota(path) == expected
    assert launcher._cgroup_cpu_quota(tmp_path / "missing") is None
