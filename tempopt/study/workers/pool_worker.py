"""``tempopt worker``: a long-running worker that serves every submitted study of a database.

It asks the scheduler for the study that most needs a worker, runs one step of it (a search
trial or batch, or a verification replicate or batch), and asks again; with nothing to do it
idles with a back-off (doubling up to ``max_backoff``) and, with ``max_idle``, exits after that
long idle. Each study is prepared once per worker (its spec read from the study, its task
built, its teacher from the cache under the cache's lock, trained once per host). A study
whose task (or loss variant) this worker cannot import is skipped for good, with one logged
sentence, and the problem is recorded on the study (user attr ``worker_problems``) instead of
failing its trials; the note is cleared once a worker does serve the study. A running trial
of a study that is cancelled ends at its next epoch, failed with the reason; a paused study
keeps its running trials and gets no new ones.
"""

from __future__ import annotations

import fnmatch
import functools
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import optuna
import torch

from tempopt.distill.device import limit_cpu_threads
from tempopt.errors import SpecError, TaskError, TempoptError
from tempopt.stopping import StopFlag
from tempopt.study.optuna_internals import storage_of, study_id_of
from tempopt.study.spec.model import parse_spec
from tempopt.study.storage.heartbeats import fail_dead_trials
from tempopt.study.storage.opening import open_storage
from tempopt.study.storage.retries import retrying
from tempopt.study.stored import spec_of
from tempopt.study.trial.running import RunHooks
from tempopt.study.verification.worker import VerifyWorker
from tempopt.study.workers import service
from tempopt.study.workers.scheduler import candidates
from tempopt.study.workers.search_worker import DONE, RAN, SearchWorker, state_counts
from tempopt.study.workers.service import (
    CANCEL_CHECK_SECONDS,
    CANCELLED,
    FAILED,
    PROBLEMS,
    change_state,
    clear_problems,
    progress_of,
    record,
    submitted_studies,
)
from tempopt.study.workers.setup import Prepared, prepare_study

log = logging.getLogger(__name__)

_THREADS = torch.get_num_threads()  # this process's threads before any study lowered them
SWEEP_SECONDS = 2.0
"""How often a pool worker looks for dead workers' trials in every study it may serve."""


class StudyCancelled(TempoptError):
    """The study of a running trial was cancelled (the trial fails with this reason)."""


@dataclass
class Served:
    """A study this worker has prepared, and its two kinds of work."""

    prepared: Prepared
    search: SearchWorker
    verify: VerifyWorker | None = None


@dataclass
class PoolSummary:
    """What a pool worker did before it stopped."""

    ran: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    stopped_by_idle: bool = False
    ended: dict[str, str] = field(default_factory=dict)  # with until_done: each study's final state


@dataclass(frozen=True)
class WorkerOptions:
    """How this worker runs every study it serves: ``tempopt launch``'s per-worker settings."""

    worker_index: int = 0
    device: str | None = None
    batch_trials: int | None = None
    until_done: bool = False  # exit once every matching study is done, cancelled or failed


def serve(
    storage_url: str,
    pattern: str = "*",
    stop: StopFlag | None = None,
    hooks: RunHooks | None = None,
    max_idle: float | None = None,
    poll: float = 1.0,
    max_backoff: float = 30.0,
    on_idle: Callable[[float], None] | None = None,
    alive_file: Path | None = None,
    options: WorkerOptions = WorkerOptions(),
) -> PoolSummary:
    """Serve submitted studies until stopped (or idle for ``max_idle`` seconds).

    With ``alive_file``, the worker touches that file before every step, after every epoch and
    while idle (at least every ``max_backoff`` seconds): a liveness probe that checks its age
    tells a working or idle worker from a hung one.
    """
    stop = stop or StopFlag()
    hooks = hooks or RunHooks()
    if alive_file is not None:
        hooks = replace(hooks, on_epoch=_touching(alive_file, hooks.on_epoch))
    storage = open_storage(storage_url)
    served: dict[str, Served] = {}
    summary = PoolSummary()
    backoff, idle_since, swept = poll, time.monotonic(), 0.0
    while not stop.is_set():
        if alive_file is not None:
            alive_file.touch()
        if time.monotonic() - swept >= SWEEP_SECONDS:
            _sweep(storage, storage_url, pattern, served, hooks, stop, summary, alive_file, options)
            swept = time.monotonic()
        found = retrying(lambda: candidates(storage, pattern, frozenset(summary.skipped)), "choosing a study")
        if not found and options.until_done:
            ended = retrying(lambda: _final_states(storage, pattern), "reading the studies")
            if ended is not None:
                summary.ended = ended
                break
            stop.wait(poll)  # the study's last trials or replicates run in other workers
            continue
        if not found:
            idle = time.monotonic() - idle_since
            if max_idle is not None and idle >= max_idle:
                summary.stopped_by_idle = True
                break
            if on_idle is not None:
                on_idle(backoff)
            stop.wait(backoff if max_idle is None else min(backoff, max(max_idle - idle, 0.05)))
            backoff = min(backoff * 2, max_backoff)
            continue
        backoff = poll
        progress = found[0]
        entry = served.get(progress.name)
        if entry is None:
            entry = _prepare(storage_url, progress.name, hooks, stop, summary, alive_file, options)
            if entry is None:
                continue
            served[progress.name] = entry
        try:
            did = _step(entry, progress.total, stop)
        except TempoptError as e:  # a streak of failed trials: the study is failed, the worker goes on
            study = entry.prepared.study
            entry.search.failures.count = 0
            if (retrying(functools.partial(record, study), "reading the study") or {}).get("state") != CANCELLED:
                log.warning("study %s failed: %s", progress.name, e)
                retrying(functools.partial(change_state, study, FAILED, str(e)), "marking the study failed")
            did = True
        summary.ran[progress.name] = entry.search.ran + (entry.verify.ran if entry.verify else 0)
        if did:
            idle_since = time.monotonic()
            if progress.problems:  # another worker's note that it cannot serve the study: one can
                retrying(functools.partial(clear_problems, entry.prepared.study), "clearing the workers' problems")
        else:
            stop.wait(poll)  # the study's last trials run elsewhere: look again shortly
    return summary


def _sweep(
    storage: optuna.storages.BaseStorage,
    storage_url: str,
    pattern: str,
    served: dict[str, Served],
    hooks: RunHooks,
    stop: StopFlag,
    summary: PoolSummary,
    alive_file: Path | None,
    options: WorkerOptions,
) -> None:
    """Fail the stale trials (a dead worker's) of every submitted study with running trials, so
    that their retries are handed out: a study whose last trial died would otherwise never end."""
    for study in retrying(lambda: submitted_studies(storage), "listing the studies"):
        name = study.study_name
        if name in summary.skipped or not fnmatch.fnmatchcase(name, pattern):
            continue
        counts = retrying(functools.partial(state_counts, study), "counting trials")  # its baselines' too
        if not counts["RUNNING"]:
            continue
        entry = served.get(name) or _prepare(storage_url, name, hooks, stop, summary, alive_file, options)
        if entry is not None:
            served[name] = entry
            for target in entry.search.studies:
                retrying(functools.partial(fail_dead_trials, target), "checking for dead trials")


def _final_states(storage: optuna.storages.BaseStorage, pattern: str) -> dict[str, str] | None:
    """Every matching submitted study's state once all are done, cancelled or failed; else None."""
    states = {
        p.name: p.state
        for p in (progress_of(s) for s in submitted_studies(storage) if fnmatch.fnmatchcase(s.study_name, pattern))
    }
    return states if all(s in (service.DONE, CANCELLED, FAILED) for s in states.values()) else None


def _step(entry: Served, total: int, stop: StopFlag) -> bool:
    """One step of the study: search while its budget lasts, then verification. True if it ran work.

    The study's ``cpu_threads`` apply to its step (capped by ``$TEMPOPT_NUM_THREADS``, the
    worker's share under ``tempopt launch``), as they would to ``tempopt run``.
    """
    torch.set_num_threads(_THREADS)
    limit_cpu_threads(entry.prepared.spec.cpu_threads, int(os.environ.get("TEMPOPT_NUM_THREADS") or 0))
    step = entry.search.step(total, stop)
    if step == RAN:
        return True
    if step != DONE or entry.prepared.spec.verify.seeds == 0:
        return False
    if entry.verify is None:
        p = entry.prepared
        entry.verify = VerifyWorker(p.study, p.spec, p.task, p.teacher, entry.search.hooks, entry.search.batch)
    return entry.verify.step(stop) == RAN


def _prepare(
    storage_url: str,
    name: str,
    hooks: RunHooks,
    stop: StopFlag,
    summary: PoolSummary,
    alive_file: Path | None = None,
    options: WorkerOptions = WorkerOptions(),
) -> Served | None:
    """Read a study's spec and prepare its task and teacher; None (the study skipped) if this
    worker cannot, e.g. its task module does not import here."""
    storage = open_storage(storage_url)
    study = retrying(lambda: optuna.load_study(study_name=name, storage=storage), "reading the study")
    try:
        spec = parse_spec({**spec_of(study.user_attrs), "name": name}, source=f"study {name!r}")
        overrides = {"device": options.device, "batch_trials": options.batch_trials}
        spec = spec.model_copy(
            update={
                "trials": int((record(study) or {}).get("total", spec.trials)),
                **{k: v for k, v in overrides.items() if v is not None},
            }
        )

        def teacher_epoch(epoch: int, accuracy: float) -> bool:  # a teacher trained here: still alive
            if alive_file is not None:
                alive_file.touch()
            return False

        prepared = prepare_study(
            spec, storage_url, options.worker_index, teacher_epoch, stop, on_study_changed=hooks.on_study_changed
        )
    except (SpecError, TaskError) as e:
        where = f"{socket.gethostname()}"
        message = f"worker on {where} cannot serve study {name!r}: {e}"
        log.warning(message)
        summary.skipped[name] = message
        problems = dict(study.user_attrs.get(PROBLEMS) or {})
        problems[where] = str(e)
        retrying(lambda: study.set_user_attr(PROBLEMS, problems), "recording the problem on the study")
        return None
    watched = replace(hooks, on_epoch=_cancel_check(prepared.study, spec.epochs, hooks.on_epoch))
    return Served(prepared, SearchWorker(prepared.study, spec, prepared.task, prepared.teacher, watched))


def _touching(path: Path, inner: Callable | None) -> Callable:
    def on_epoch(trial: optuna.Trial, epoch: int, accuracy: float) -> None:
        path.touch()
        if inner is not None:
            inner(trial, epoch, accuracy)

    return on_epoch


def _cancel_check(study: optuna.Study, epochs: int, inner: Callable | None) -> Callable:
    """An epoch hook that ends the trial (StudyCancelled) once its study is cancelled. It reads
    the study's state after an epoch when :data:`CANCEL_CHECK_SECONDS` have passed since the last
    read (so after every epoch longer than that), and always after the last epoch: no trial of a
    cancelled study completes."""
    last = [0.0]
    storage, study_id = storage_of(study), study_id_of(study)

    def on_epoch(trial: optuna.Trial, epoch: int, accuracy: float) -> None:
        if inner is not None:
            inner(trial, epoch, accuracy)
        now = time.monotonic()
        if now - last[0] < CANCEL_CHECK_SECONDS and epoch < epochs:
            return
        last[0] = now
        attrs = retrying(lambda: storage.get_study_user_attrs(study_id), "reading the study's state")
        if (attrs.get("service") or {}).get("state") == CANCELLED:
            raise StudyCancelled(f"study {study.study_name!r} was cancelled")

    return on_epoch
