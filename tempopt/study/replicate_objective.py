"""The objective of a verification replicate: a queued config retrained with its own student seed."""

from __future__ import annotations

import functools
from dataclasses import replace

import optuna

from tempopt.distill import JobResult, run_job
from tempopt.distill.members import Member, fit_members
from tempopt.errors import TrainingError
from tempopt.study.epoch_reports import EpochReports
from tempopt.study.liveness import retrying
from tempopt.study.objective import Objective, record_job
from tempopt.study.per_example import encode_correct


class ReplicateObjective(Objective):
    """One verification replicate: a queued config retrained with its own student seed.

    Never pruned. Records the held-out accuracy (``test_accuracy`` on ``test_split``: the
    task's test split, or val for a task without one) and which examples it got right
    (``test_correct``), from which the verdict's paired interval is computed.
    """

    def __call__(self, trial: optuna.Trial) -> float:
        params, config = self.configure(trial)  # the queued params
        config = replace(config, seed=int(trial.user_attrs["student_seed"]))

        task, teacher = self.task_for(params)
        with EpochReports([trial]) as reports:

            def report(epoch: int, accuracy: float) -> bool:
                reports.report(trial, epoch, accuracy)
                if self.on_epoch is not None:
                    self.on_epoch(trial, epoch, accuracy)
                return False

            result = run_job(task, config, teacher if config.kd_weight > 0 else None, report, measure_test=True)
        retrying(functools.partial(self._record, trial, result, config.seed), f"recording replicate {trial.number}")
        return result.final_accuracy

    def batch(self, trials: list[optuna.Trial]) -> list[float | BaseException]:
        """Replicates of one student seed trained together (:func:`fit_members`)."""
        seeds = {int(t.user_attrs["student_seed"]) for t in trials}
        assert len(seeds) == 1, "a batch of replicates shares its student seed"
        seed = seeds.pop()
        configs = [replace(self.configure(t)[1], seed=seed) for t in trials]
        members = [Member(c.temperature, c.kd_weight, c.lr, c.loss, c.loss_args) for c in configs]
        numbers = [t.number for t in trials]
        for trial in trials:
            retrying(functools.partial(trial.set_user_attr, "batch", numbers), f"starting replicate {trial.number}")
        teacher = self.teacher if any(m.kd_weight > 0 for m in members) else None
        with EpochReports(trials) as reports:

            def on_epoch(epoch: int, running: list[int], accuracies: list[float]) -> set[int]:
                self.report_members(reports, epoch, running, accuracies)
                return set()

            results = fit_members(self.task, configs[0], members, teacher, on_epoch, measure_test=True)
        outcomes: list[float | BaseException] = []
        for trial, result, config in zip(trials, results, configs, strict=True):
            if result.error is not None:
                outcomes.append(TrainingError(result.error))
                continue
            retrying(functools.partial(self._record, trial, result, config.seed), f"recording replicate {trial.number}")
            outcomes.append(result.final_accuracy)
        return outcomes

    def _record(self, trial: optuna.Trial, result: JobResult, seed: int) -> None:
        correct = result.test_correct
        assert correct is not None
        attrs = {
            "test_accuracy": result.test_accuracy,
            "test_split": result.test_split,
            "test_examples": len(correct),
            "test_correct": encode_correct(correct.numpy()),
        }
        record_job(trial, result, self.at_chance(result.best_accuracy), seed, attrs)
