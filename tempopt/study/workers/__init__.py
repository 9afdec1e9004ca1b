"""The work done in a worker process: making a study ready (storage checked, teacher prepared,
study created or joined), the search worker that runs one study's trials and then its share of
the verification, and the pool worker (``tempopt worker``) that serves every submitted study.

- ``setup``: a study made ready for a worker; ``creation``: creating or joining a study;
- ``search_worker``: one study's trials, then its verification;
- ``pool_worker``: the long-running worker of ``tempopt worker``; ``scheduler``: which submitted
  study it serves next; ``service``: what ``tempopt submit`` records and the state of a study.

Spawning worker processes on one host (``tempopt launch``) is :mod:`tempopt.launch`.
Each name is imported when first read (:mod:`tempopt.lazy_exports`).
"""

from typing import TYPE_CHECKING

from tempopt.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from tempopt.study.workers.creation import check_compatible, create_or_resume, record_teacher
    from tempopt.study.workers.pool_worker import WorkerOptions, serve
    from tempopt.study.workers.search_worker import WorkerSummary, run_worker
    from tempopt.study.workers.setup import Prepared, prepare_study

__all__ = [
    "Prepared",
    "WorkerOptions",
    "WorkerSummary",
    "check_compatible",
    "create_or_resume",
    "prepare_study",
    "record_teacher",
    "run_worker",
    "serve",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        ".setup": ("Prepared", "prepare_study"),
        ".creation": ("check_compatible", "create_or_resume", "record_teacher"),
        ".search_worker": ("WorkerSummary", "run_worker"),
        ".pool_worker": ("WorkerOptions", "serve"),
    },
)
