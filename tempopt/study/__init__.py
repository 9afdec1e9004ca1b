"""Studies: study files, the Optuna objective, the worker loop, storage (export is :mod:`tempopt.export`).

Each name is imported when first read (:mod:`tempopt.lazy_exports`): importing a module of
the package, as ``tempopt status`` does, does not import the trainer and torch.
"""

from typing import TYPE_CHECKING

from tempopt.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from tempopt.study.baseline_study import state_counts
    from tempopt.study.creation import check_compatible, create_or_resume, record_teacher
    from tempopt.study.objective import Objective, job_config
    from tempopt.study.runner import WorkerSummary, run_worker
    from tempopt.study.spec import StudySpec, load_spec, parse_spec
    from tempopt.study.spec_task import load_spec_task
    from tempopt.study.stopping import StopFlag, WorkerStopped
    from tempopt.study.storage import DEFAULT_STORAGE, open_storage, redact_url
    from tempopt.study.trial_run import RunHooks

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
        ".creation": ("check_compatible", "create_or_resume", "record_teacher"),
        ".objective": ("Objective", "job_config"),
        ".baseline_study": ("state_counts",),
        ".runner": ("WorkerSummary", "run_worker"),
        ".spec": ("StudySpec", "load_spec", "parse_spec"),
        ".spec_task": ("load_spec_task",),
        ".stopping": ("StopFlag", "WorkerStopped"),
        ".storage": ("DEFAULT_STORAGE", "open_storage", "redact_url"),
        ".trial_run": ("RunHooks",),
    },
)
