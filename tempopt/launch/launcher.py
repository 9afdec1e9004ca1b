"""``tempopt launch``: N worker processes on this host for one study.

The launcher prepares the study once (schema, study, baseline, teacher cache) so that workers
starting together neither race to create tables nor train the teacher twice, then runs
``tempopt worker --studies NAME --until-done --worker-index i`` N times: pool workers (the same
ones that serve every submitted study) limited to this study, which exit once it is done. Each
worker gets its share of the CPU threads and, with ``--gpus``, one GPU (several workers per GPU
allowed). A worker that dies is restarted; on SIGINT/SIGTERM the launcher forwards SIGTERM,
waits, and fails and requeues whatever trial a worker that did not stop in time left RUNNING.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

from tempopt.stopping import StopFlag
from tempopt.study.optuna_internals import storage_of, trial_id_of
from tempopt.study.storage.retries import retrying
from tempopt.study.stored import PLAN_ATTR, load_verification, pending, spec_of, state_counts
from tempopt.study.trial.running import FAIL_REASON, requeue

STOP_TIMEOUT = 60.0
MAX_RESTARTS = 3


@dataclass(frozen=True)
class WorkerPlan:
    """How one worker process is started."""

    index: int
    env: dict[str, str]
    gpu: str | None
    threads: int


def available_cores() -> int:
    """The CPUs this process may use: its affinity mask (taskset, cpusets), lowered by a cgroup
    CPU quota (``docker --cpus``, Kubernetes limits); ``os.cpu_count()`` counts the whole host."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    return max(1, min(cores, quota)) if quota is not None else cores


def _cgroup_cpu_quota(path: Path = Path("/sys/fs/cgroup/cpu.max")) -> int | None:
    """Whole CPUs allowed by a cgroup v2 quota ("200000 100000" is 2), or None without one."""
    try:
        limit, period = path.read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if limit == "max":
        return None
    return max(1, int(limit) // int(period))


def plan_workers(workers: int, gpus: list[str] | None = None, cores: int | None = None) -> list[WorkerPlan]:
    """Give each worker its GPU (round robin over ``gpus``) and its share of the CPU threads.

    Args:
        workers: number of worker processes.
        gpus: GPU ids; worker ``i`` sees only ``gpus[i % len(gpus)]`` (``CUDA_VISIBLE_DEVICES``).
        cores: CPUs to share; default :func:`available_cores`. Each worker gets
            ``cores // workers`` threads (at least one), so that workers never oversubscribe them.
    """
    cores = cores or available_cores()
    threads = max(1, cores // workers)
    plans = []
    for i in range(workers):
        env = {"TEMPOPT_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
        gpu = gpus[i % len(gpus)] if gpus else None
        if gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = gpu
        plans.append(WorkerPlan(index=i, env=env, gpu=gpu, threads=threads))
    return plans


@dataclass
class LaunchResult:
    """How a launch ended."""

    counts: dict[str, int]
    total: int
    exit_codes: dict[int, int | None] = field(default_factory=dict)
    stopped_by: int | None = None
    requeued: list[int] = field(default_factory=list)
    restarts: int = 0

    @property
    def finished(self) -> int:
        return self.counts.get("COMPLETE", 0) + self.counts.get("PRUNED", 0)


class Launcher:
    """Starts, watches and stops the worker processes of one study."""

    def __init__(
        self,
        study: optuna.Study,
        study_file: Path,
        storage_url: str,
        total: int,
        plans: list[WorkerPlan],
        log_dir: Path,
        device: str | None = None,
        batch_trials: int | None = None,
    ) -> None:
        self.study = study
        self.study_file = study_file
        self.storage_url = storage_url
        self.total = total
        self.plans = plans
        self.log_dir = log_dir
        self.device = device
        self.batch_trials = batch_trials
        self.procs: dict[int, subprocess.Popen] = {}
        self._restarts: dict[int, int] = {p.index: 0 for p in plans}

    def command(self, plan: WorkerPlan) -> list[str]:
        """The command line of one worker (the storage URL travels in its environment, not in ``ps``)."""
        cmd = [
            sys.executable,
            "-m",
            "tempopt",
            "worker",
            "--studies",
            self.study.study_name,
            "--until-done",
            "--worker-index",
            str(plan.index),
        ]
        if self.device:
            cmd += ["--device", self.device]
        if self.batch_trials:
            cmd += ["--batch-trials", str(self.batch_trials)]
        return cmd

    def environment(self, plan: WorkerPlan) -> dict[str, str]:
        """What a worker's environment adds: its threads and GPU, and the storage URL."""
        return {**plan.env, "TEMPOPT_STORAGE": self.storage_url}

    def log_path(self, index: int) -> Path:
        return self.log_dir / f"worker-{index}.log"

    def start(self, plan: WorkerPlan) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.environment(plan)}
        log = open(self.log_path(plan.index), "ab")  # noqa: SIM115 - owned by the child
        self.procs[plan.index] = subprocess.Popen(
            self.command(plan),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C reaches the launcher only; it forwards SIGTERM
        )
        log.close()

    def run(
        self,
        on_poll: Callable[[dict[str, int]], None] | None = None,
        poll: float = 0.5,
        stop: StopFlag | None = None,
    ) -> LaunchResult:
        """Start every worker, restart those that die, stop them all when ``stop`` is set.

        Args:
            on_poll: called with the trial counts about every ``poll`` seconds.
            poll: seconds between checks of the workers.
            stop: set by SIGINT/SIGTERM (install it); without one, the launcher installs its own.
        """
        if stop is None:
            with StopFlag().installed() as own:
                return self.run(on_poll, poll, own)
        for plan in self.plans:
            if not stop.is_set():
                self.start(plan)
        while self.procs and not stop.is_set():
            self._restart_dead()
            if on_poll is not None:
                on_poll(retrying(lambda: state_counts(self.study), "counting trials"))
            if all(p.poll() is not None for p in self.procs.values()):
                break
            stop.wait(poll)
        if stop.is_set():
            self._stop_all()
        requeued = self._fail_leftovers()
        return LaunchResult(
            counts=retrying(lambda: state_counts(self.study), "counting trials"),
            total=self.total,
            exit_codes={i: p.poll() for i, p in self.procs.items()},
            stopped_by=stop.signum if stop.is_set() else None,
            requeued=requeued,
            restarts=sum(self._restarts.values()),
        )

    def _restart_dead(self) -> None:
        """Restart a worker that was killed (not one that exited on its own)."""
        for plan in self.plans:
            proc = self.procs.get(plan.index)
            code = proc.poll() if proc is not None else 0
            if code is None or code >= 0 or self._restarts[plan.index] >= MAX_RESTARTS:
                continue
            if not retrying(self._work_left, "counting trials"):
                continue
            self._restarts[plan.index] += 1
            with open(self.log_path(plan.index), "a") as log:
                log.write(f"\n[launcher] worker {plan.index} died ({signal.Signals(-code).name}); restarting\n")
            self.start(plan)

    def _work_left(self) -> bool:
        """True while the search or its verification has trials left for a worker."""
        counts = state_counts(self.study)
        if counts["COMPLETE"] + counts["PRUNED"] < self.total:
            return True
        verification = load_verification(self.study)
        if verification is None or verification.user_attrs.get(PLAN_ATTR) is None:
            return int(spec_of(self.study.user_attrs).get("verify", {}).get("seeds", 0)) > 0
        planned, complete, _ = pending(verification)
        return complete < planned

    def _stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def _fail_leftovers(self) -> list[int]:
        """Fail and requeue trials still RUNNING on workers of this launcher that are gone."""
        ours = {f"{socket.gethostname()}:{p.pid}" for p in self.procs.values() if p.poll() is not None}
        requeued = []
        running = retrying(
            lambda: self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)), "reading trials"
        )
        storage = storage_of(self.study)
        for t in running:
            if t.user_attrs.get("worker") not in ours or not retrying(partial(self._fail, t), "failing a trial"):
                continue
            frozen = retrying(partial(storage.get_trial, trial_id_of(t)), "reading trials")
            retrying(partial(requeue, self.study, frozen), f"queueing trial {t.number} again")
            requeued.append(t.number)
        return requeued

    def _fail(self, trial: FrozenTrial) -> bool:
        """Fail a trial left RUNNING; False if it finished meanwhile."""
        storage = storage_of(self.study)
        try:
            if not storage.set_trial_state_values(trial_id_of(trial), TrialState.FAIL):
                return False
        except optuna.exceptions.UpdateFinishedTrialError:
            return False
        storage.set_trial_user_attr(trial_id_of(trial), FAIL_REASON, "worker stopped by the launcher")
        return True
