"""`tempopt launch`: spawning worker processes on one host, pinning, watching and stopping them
(what each process runs is :mod:`tempopt.study.workers`)."""

from tempopt.launch.launcher import Launcher, LaunchResult, WorkerPlan, plan_workers

__all__ = ["LaunchResult", "Launcher", "WorkerPlan", "plan_workers"]
