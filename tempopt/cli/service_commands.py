"""``tempopt submit``, ``studies``, ``pause``, ``resume``, ``cancel`` and ``worker``: studies as a service."""

from __future__ import annotations

import functools
import logging
import os
import signal
from pathlib import Path

import typer
from rich.markup import escape

from tempopt.cli.app import command, out
from tempopt.cli.study_commands import EXIT_SIGNAL, StorageOption, apply_thread_limit, storage_url
from tempopt.study.spec.defaults import MAX_TRIALS

log = logging.getLogger("tempopt.worker")


@command("submit")
def submit_command(
    study_file: Path = typer.Argument(..., help="The study file (studies/*.yaml)."),
    storage: str | None = StorageOption,
    priority: int = typer.Option(
        0, "--priority", help="Higher runs first; workers serve a lower one only when no higher study has work left."
    ),
    trials: int | None = typer.Option(
        None, "--trials", min=1, max=MAX_TRIALS, help="Total finished trials (overrides the file)."
    ),
) -> None:
    """Validate a study file, create the study (or check it against the stored one) and open it for
    workers; returns at once. Workers (tempopt worker) do the training."""
    from tempopt.cli.study_output import warn_few_baselines
    from tempopt.study.preflight import preflight
    from tempopt.study.spec.model import load_spec
    from tempopt.study.storage.opening import open_storage, redact_url
    from tempopt.study.storage.retries import retrying
    from tempopt.study.workers.creation import create_or_resume
    from tempopt.study.workers.service import submit

    spec = load_spec(study_file)
    if trials is not None:
        spec = spec.model_copy(update={"trials": trials})
    preflight(spec, on_this_host=False)  # the workers' hosts have the device; the rest is checked here
    url = storage_url(storage, spec)
    warn_few_baselines(spec)
    study = retrying(lambda: create_or_resume(spec, open_storage(url)), "creating the study")
    retrying(lambda: submit(study, spec.trials, priority), "opening the study for workers")
    out.print(
        f"submitted study [bold]{escape(spec.name)}[/] to {redact_url(url)}: {spec.trials} trials, priority "
        f"{priority}; `tempopt worker --storage URL` serves it.",
        highlight=False,
    )


@command("studies")
def studies_command(storage: str | None = StorageOption) -> None:
    """Every submitted study: state, progress, best value, verdict and the workers on it."""
    from rich.table import Table

    from tempopt.analysis import best_config, compute_verdict
    from tempopt.study.storage.opening import open_existing_storage, redact_url
    from tempopt.study.storage.retries import retrying
    from tempopt.study.workers.service import progress_of, submitted_studies

    url = storage_url(storage)
    studies = retrying(lambda: submitted_studies(open_existing_storage(url)), "listing the studies")
    if not studies:
        out.print(
            f"no submitted studies in {redact_url(url)}; submit one with `tempopt submit STUDY.yaml`.", highlight=False
        )
        return
    table = Table(title=f"studies in {redact_url(url)}")
    for col in ("study", "priority", "state", "finished", "best", "verdict", "workers"):
        table.add_column(col)
    problems = []
    for s in studies:
        p = retrying(functools.partial(progress_of, s), "reading a study")
        verdict = retrying(functools.partial(compute_verdict, s), "reading the verdict")
        chosen = retrying(functools.partial(best_config, s, verdict), "reading the best config")
        best = "-" if chosen is None else chosen.short()
        table.add_row(
            p.name,
            str(p.priority),
            p.state,
            f"{p.finished}/{p.total}",
            best,
            verdict.verdict,
            ", ".join(p.workers) or "-",
        )
        for host, text in p.problems.items():
            problems.append(f"{p.name}: a worker on {host} cannot serve it: {text}")
    out.print(table)
    for line in problems:
        out.print(f"[yellow]note:[/] {escape(line)}", highlight=False, soft_wrap=True)


def _change(name: str, storage: str | None, to: str, verb: str) -> None:
    from tempopt.study.storage.opening import load_study
    from tempopt.study.storage.retries import retrying
    from tempopt.study.workers.service import request_state

    url = storage_url(storage)
    study = load_study(name, url)
    before = retrying(lambda: request_state(study, to, verb), f"changing the study's state ({verb})")
    out.print(f"study [bold]{escape(name)}[/]: {before} → {to}", highlight=False)


@command("pause")
def pause_command(name: str = typer.Argument(..., help="Study name."), storage: str | None = StorageOption) -> None:
    """Stop handing out the study's trials; running ones finish."""
    from tempopt.study.workers.service import PAUSED

    _change(name, storage, PAUSED, "pause")


@command("resume")
def resume_command(name: str = typer.Argument(..., help="Study name."), storage: str | None = StorageOption) -> None:
    """Open a paused (or cancelled) study for workers again."""
    from tempopt.study.workers.service import OPEN

    _change(name, storage, OPEN, "resume")


@command("cancel")
def cancel_command(name: str = typer.Argument(..., help="Study name."), storage: str | None = StorageOption) -> None:
    """Stop the study: no new trials, and its running trials end (failed, with the reason) within an epoch."""
    from tempopt.study.workers.service import CANCELLED

    _change(name, storage, CANCELLED, "cancel")


@command("worker")
def worker_command(
    storage: str | None = StorageOption,
    studies: str = typer.Option("*", "--studies", help="Serve only studies whose name matches this glob."),
    max_idle: float | None = typer.Option(
        None, "--max-idle", min=0, help="Exit after this many seconds with nothing to do (default: run until stopped)."
    ),
    gpus: str | None = typer.Option(None, "--gpus", help="GPU ids this worker may use (CUDA_VISIBLE_DEVICES)."),
    alive_file: Path | None = typer.Option(
        None,
        "--alive-file",
        help="Touched before every step, after every epoch and while idle (at least every 30 s): for a liveness probe.",
    ),
    until_done: bool = typer.Option(
        False,
        "--until-done",
        help="Exit once every matching study is done, "
        "cancelled or failed (tempopt launch's workers); exit 1 if one failed.",
    ),
    worker_index: int = typer.Option(
        0, "--worker-index", min=0, help="This worker's index among workers started together (varies the sampler seed)."
    ),
    device: str | None = typer.Option(None, "--device", help="auto, cpu, cuda or cuda:N for every study served."),
    batch_trials: int | None = typer.Option(
        None, "--batch-trials", min=1, max=256, help="Trials trained together (overrides each study's)."
    ),
) -> None:
    """Serve every submitted study of the database until stopped: the one that most needs a worker
    first, one trial (or batch) at a time; idle with a back-off when there is nothing to do."""
    from tempopt.distill.device import resolve_device
    from tempopt.export import refresh_note
    from tempopt.outputs import ensure_file
    from tempopt.stopping import StopFlag
    from tempopt.study.storage.opening import load_study, redact_url
    from tempopt.study.storage.retries import retrying
    from tempopt.study.trial.running import RunHooks
    from tempopt.study.workers.pool_worker import WorkerOptions, serve
    from tempopt.study.workers.service import progress_of

    if device is not None:
        resolve_device(device)  # no such device here: one sentence before any study is touched
    if alive_file is not None:
        ensure_file(alive_file, "--alive-file")
    if gpus:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpus
    apply_thread_limit(None)
    url = storage_url(storage)
    out.print(f"worker {os.getpid()} serving studies matching {studies!r} in {redact_url(url)}", highlight=False)

    from tempopt.study.stored import REPLICATE_ATTR

    def on_trial_end(frozen) -> None:  # type: ignore[no-untyped-def]
        what = frozen.user_attrs.get(REPLICATE_ATTR) or f"trial {frozen.number}"
        out.print(f"{frozen.user_attrs.get('worker', '')} {what}: {frozen.state.name.lower()}", highlight=False)

    def on_note(message: str) -> None:
        out.print(f"note: {message}", highlight=False)

    with StopFlag().installed() as stop:
        options = WorkerOptions(worker_index, device, batch_trials, until_done)
        summary = serve(
            url,
            studies,
            stop,
            RunHooks(on_trial_end=on_trial_end, on_note=on_note, on_study_changed=refresh_note),
            max_idle=max_idle,
            alive_file=alive_file,
            options=options,
        )
    ran = ", ".join(f"{n} {k}" for n, k in summary.ran.items()) or "nothing"
    why = "signal" if stop.is_set() else "idle" if summary.stopped_by_idle else "done"
    out.print(f"worker stopped ({why}); ran: {ran}", highlight=False)
    if summary.ended:
        for name, state in summary.ended.items():
            p = retrying(functools.partial(progress_of, load_study(name, url)), "reading the study")
            out.print(
                f"study {name}: {p.finished}/{p.total} finished, {state}; this worker ran {summary.ran.get(name, 0)}.",
                highlight=False,
            )
    if stop.is_set():
        raise typer.Exit(code=EXIT_SIGNAL.get(stop.signum or signal.SIGTERM, 1))
    failed = [name for name, state in summary.ended.items() if state == "failed"]
    if failed:
        out.print(f"study {failed[0]!r} failed: see `tempopt studies`", highlight=False)
        raise typer.Exit(code=1)
