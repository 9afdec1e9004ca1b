"""Studies: study files, the Optuna objective, the worker loop, storage, export."""

from tempopt.study.creation import check_compatible, create_or_resume, record_teacher
from tempopt.study.export import export_best, read_export, write_export
from tempopt.study.objective import Objective, job_config
from tempopt.study.runner import WorkerSummary, run_worker, state_counts
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
    "export_best",
    "job_config",
    "load_spec",
    "load_spec_task",
    "open_storage",
    "parse_spec",
    "read_export",
    "record_teacher",
    "redact_url",
    "run_worker",
    "state_counts",
    "write_export",
]
