"""Studies, one concept per sub-package, lowest first:

- :mod:`~tempopt.study.optuna_internals`: the one place tempopt reaches into Optuna's internals
  (the fast SQL paths for reads, writes and claims, views of a study for its pruner);
- :mod:`~tempopt.study.stored`: the vocabulary of what a study stores, and reading its siblings;
  :mod:`~tempopt.study.siblings`: listing a storage's studies with their siblings;
- :mod:`~tempopt.study.spec`: the study file; :mod:`~tempopt.study.preflight`: the checks of a
  spec's task before a storage is opened;
- :mod:`~tempopt.study.storage`: where studies live; :mod:`~tempopt.study.search`: distributions,
  samplers, pruning, baselines, objectives;
- :mod:`~tempopt.study.trial`: a trial as a distillation job; :mod:`~tempopt.study.verification`:
  the best configs retrained with fresh seeds;
- :mod:`~tempopt.study.workers`: set-up, the search worker, the pool worker and the service.

A module imports only from its own layer and those below (``tests/test_layout.py``). Reading a
study's results is :mod:`tempopt.analysis`; exports, :mod:`tempopt.export`.

Each name is imported when first read (:mod:`tempopt.lazy_exports`): importing a module of
the package, as ``tempopt status`` does, does not import the trainer and torch.
"""

from typing import TYPE_CHECKING

from tempopt.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from tempopt.stopping import StopFlag, WorkerStopped
    from tempopt.study.spec.host import load_spec_task
    from tempopt.study.spec.model import StudySpec, load_spec, parse_spec
    from tempopt.study.storage.opening import DEFAULT_STORAGE, open_storage, redact_url
    from tempopt.study.stored import state_counts
    from tempopt.study.trial.objective import Objective, job_config
    from tempopt.study.trial.running import RunHooks
    from tempopt.study.workers.creation import check_compatible, create_or_resume, record_teacher
    from tempopt.study.workers.search_worker import WorkerSummary, run_worker

__all__ = [
    "DEFAULT_STORAGE",
    "Objective",
    "RunHooks",
    "StopFlag",
    "StudySpec",
    "WorkerStopped",
    "WorkerSummary",
    "check_compatible",
    "create_or_resume",
    "job_config",
    "load_spec",
    "load_spec_task",
    "open_storage",
    "parse_spec",
    "record_teacher",
    "redact_url",
    "run_worker",
    "state_counts",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        ".workers.creation": ("check_compatible", "create_or_resume", "record_teacher"),
        ".trial.objective": ("Objective", "job_config"),
        ".stored": ("state_counts",),
        ".workers.search_worker": ("WorkerSummary", "run_worker"),
        ".spec.model": ("StudySpec", "load_spec", "parse_spec"),
        ".spec.host": ("load_spec_task",),
        "tempopt.stopping": ("StopFlag", "WorkerStopped"),
        ".storage.opening": ("DEFAULT_STORAGE", "open_storage", "redact_url"),
        ".trial.running": ("RunHooks",),
    },
)
