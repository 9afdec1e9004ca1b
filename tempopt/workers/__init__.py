"""Parallel workers on one host: spawning, pinning, watching and stopping them."""

from tempopt.workers.launcher import Launcher, LaunchResult, WorkerPlan, plan_workers

__all__ = ["LaunchResult", "Launcher", "WorkerPlan", "plan_workers"]
