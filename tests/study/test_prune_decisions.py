"""``prune_decisions``: a batch's pruning answers from one read of the study, equal to should_prune's."""

from __future__ import annotations

import optuna
import pytest

from tempopt.study.optuna_compat import prune_decisions


def _study(pruner: optuna.pruners.BasePruner) -> optuna.Study:
    study = optuna.create_study(direction="maximize", pruner=pruner, study_name="prune-decisions")
    for i in range(6):  # finished trials with curves spread from 0.1 to 0.6
        trial = study.ask()
        for step in range(1, 6):
            trial.report(0.1 * (i + 1) * step / 5, step=step)
        study.tell(trial, 0.1 * (i + 1))
    return study


@pytest.mark.parametrize(
    "pruner",
    [
        optuna.pruners.MedianPruner(n_startup_trials=2),
        optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=2),
        optuna.pruners.HyperbandPruner(min_resource=1, max_resource=5, reduction_factor=2),
    ],
    ids=["median", "sha", "hyperband"],
)
def test_the_answers_are_those_of_should_prune(pruner):
    study = _study(pruner)
    running = [study.ask() for _ in range(5)]
    for step in range(1, 4):
        for i, trial in enumerate(running):
            trial.report(0.12 * (i + 1) * step / 5, step=step)
        assert prune_decisions(study, running) == [t.should_prune() for t in running]


def test_the_study_is_read_once_for_every_member():
    study = _study(optuna.pruners.MedianPruner(n_startup_trials=2))
    running = [study.ask() for _ in range(4)]
    for i, trial in enumerate(running):
        trial.report(0.1 * i, step=3)
    storage, reads = study._storage, []
    original = storage.get_all_trials

    def counting(*args, **kwargs):
        reads.append(args)
        return original(*args, **kwargs)

    storage.get_all_trials = counting
    try:
        decisions = prune_decisions(study, running)
    finally:
        storage.get_all_trials = original
    assert len(reads) == 1
    assert decisions[0] and not decisions[-1]  # the worst curve is pruned, the best is kept
