"""The objective of a verification replicate: a queued config retrained with its own student seed."""

from __future__ import annotations

import functools
from dataclasses import replace

import optuna

from tempopt.distill import JobResult
from tempopt.distill.config import member_of
from tempopt.distill.members import fit_members
from tempopt.errors import TrainingError
from tempopt.study.search.epoch_reports import EpochReports
from tempopt.study.storage.retries import retrying
from tempopt.study.stored import CORRECT_ATTR, SEED_ATTR, TEST_ACCURACY_ATTR, encode_correct
from tempopt.study.trial.objective import Objective, Outcome, record_job


class ReplicateObjective(Objective):
    """Verification replicates: queued configs retrained with their own student seed, one
    (``objective(trial)``, a batch of one) or several of one seed together (:meth:`batch`).

    Never pruned. Records the held-out accuracy (``test_accuracy`` on ``test_split``: the
    task's test split, or val for a task without one) and which examples it got right
    (``test_correct``), from which the verdict's paired interval is computed.
    """

    def batch(self, trials: list[optuna.Trial]) -> list[Outcome]:
        """Replicates of one student seed trained together (:func:`fit_members`)."""
        seeds = {int(t.user_attrs[SEED_ATTR]) for t in trials}
        assert len(seeds) == 1, "a batch of replicates shares its student seed"
        seed = seeds.pop()
        asked = [self.configure(t) for t in trials]  # the queued params
        configs = [replace(config, seed=seed) for _, config in asked]
        task, teacher = self.task_for(asked[0][0])
        members = [member_of(c) for c in configs]
        if len(trials) > 1:
            numbers = [t.number for t in trials]
            for trial in trials:
                retrying(functools.partial(trial.set_user_attr, "batch", numbers), f"starting replicate {trial.number}")
        teacher = teacher if any(m.kd_weight > 0 for m in members) else None
        with EpochReports(trials) as reports:

            def on_epoch(epoch: int, running: list[int], accuracies: list[float]) -> set[int]:
                for index, accuracy in zip(running, accuracies, strict=True):
                    reports.report(trials[index], epoch, accuracy)
                    if self.on_epoch is not None:
                        self.on_epoch(trials[index], epoch, accuracy)
                return set()

            results = fit_members(task, configs[0], members, teacher, on_epoch, measure_test=True)
        outcomes: list[Outcome] = []
        for trial, result in zip(trials, results, strict=True):
            if result.error is not None:
                outcomes.append(TrainingError(result.error))
                continue
            retrying(functools.partial(self._record, trial, result, seed), f"recording replicate {trial.number}")
            outcomes.append(result.final_accuracy)
        return outcomes

    def _record(self, trial: optuna.Trial, result: JobResult, seed: int) -> None:
        correct = result.test_correct
        assert correct is not None
        attrs = {
            TEST_ACCURACY_ATTR: result.test_accuracy,
            "test_split": result.test_split,
            "test_examples": len(correct),
            CORRECT_ATTR: encode_correct(correct.numpy()),
        }
        record_job(trial, result, self.at_chance(result.best_accuracy), seed, attrs)
