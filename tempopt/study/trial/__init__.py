"""A trial: its job config from its params, the objective that trains one trial or a batch of
them as one distillation job, and running them: heartbeats, a stop signal, the outcome told to
Optuna, a requeue.

- ``objective``: params to a :class:`~tempopt.distill.JobConfig`, and the job's result recorded;
- ``running``: a started trial (or batch) run and told.

Each name is imported when first read (:mod:`tempopt.lazy_exports`).
"""

from typing import TYPE_CHECKING

from tempopt.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from tempopt.study.trial.objective import Objective, job_config
    from tempopt.study.trial.running import RunHooks

__all__ = [
    "Objective",
    "RunHooks",
    "job_config",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        ".objective": ("Objective", "job_config"),
        ".running": ("RunHooks",),
    },
)
