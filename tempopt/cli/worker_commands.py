"""``tempopt launch``: several workers on this host for one study."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from tempopt.cli.app import command, console, out
from tempopt.cli.study_commands import EXIT_SIGNAL, StorageOption, storage_url
from tempopt.errors import SpecError
from tempopt.study.spec.defaults import MAX_TRIALS

if TYPE_CHECKING:
    from tempopt.launch import LaunchResult
    from tempopt.stopping import StopFlag
    from tempopt.study.workers.setup import Prepared


@command("launch")
def launch_command(
    study_file: Path = typer.Argument(..., help="The study file (studies/*.yaml)."),
    workers: int = typer.Option(2, "--workers", "-n", min=1, help="Worker processes on this host."),
    storage: str | None = StorageOption,
    trials: int | None = typer.Option(
        None, "--trials", min=1, max=MAX_TRIALS, help="Total finished trials (overrides the file)."
    ),
    gpus: str | None = typer.Option(None, "--gpus", help="Comma-separated GPU ids; workers are spread over them."),
    device: str | None = typer.Option(None, "--device", help="auto, cpu, cuda (overrides the file)."),
    log_dir: Path | None = typer.Option(None, "--log-dir", help="Worker logs (default .tempopt-logs/STUDY)."),
    batch_trials: int | None = typer.Option(
        None, "--batch-trials", min=1, max=256, help="Trials each worker trains together (overrides the file)."
    ),
) -> None:
    """Run N workers on this host for one study, with live progress; Ctrl-C stops them cleanly."""
    from tempopt.cli.study_output import warn_few_baselines
    from tempopt.export import refresh_note
    from tempopt.outputs import check_folder, ensure_folder
    from tempopt.stopping import StopFlag
    from tempopt.study.spec.model import load_spec
    from tempopt.study.storage.opening import is_sqlite, redact_url
    from tempopt.study.workers.setup import prepare_study

    spec = load_spec(study_file)
    updates = {
        k: v for k, v in {"trials": trials, "device": device, "batch_trials": batch_trials}.items() if v is not None
    }
    spec = spec.model_copy(update=updates)
    gpu_list = [g.strip() for g in gpus.split(",") if g.strip()] if gpus else None
    if gpus is not None and not gpu_list:
        raise SpecError(f"--gpus {gpus!r} names no GPU; give ids such as --gpus 0,1.")
    url = storage_url(storage, spec)
    logs = check_folder(log_dir or Path(".tempopt-logs") / spec.name, "--log-dir")  # before the study is made
    if is_sqlite(url) and workers > 1:
        console.print(
            "[yellow]note:[/] SQLite serialises writes (WAL, 120 s busy timeout): fine for a few workers on "
            "one host; use PostgreSQL or MariaDB for more workers or several hosts.",
            highlight=False,
        )
    console.print(
        f"study [bold]{escape(spec.name)}[/] · {workers} workers · storage {escape(redact_url(url))}", highlight=False
    )
    warn_few_baselines(spec)
    with StopFlag().installed() as stop:
        prepared = prepare_study(
            spec, url, stop=stop, on_study_changed=refresh_note
        )  # a signal in the teacher's training: exit 130/143
        ensure_folder(logs, "--log-dir")
        result = _launch(prepared, study_file, url, workers, gpu_list, device, logs, stop, batch_trials)
    _report(prepared, result, logs)


def _launch(
    prepared: Prepared,
    study_file: Path,
    url: str,
    workers: int,
    gpus: list[str] | None,
    device: str | None,
    logs: Path,
    stop: StopFlag,
    batch_trials: int | None = None,
) -> LaunchResult:
    """Run the workers with a progress bar until the study is done or ``stop`` is set."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from tempopt.launch import Launcher, plan_workers

    spec = prepared.spec
    if prepared.teacher is not None:
        console.print(f"teacher: val accuracy {prepared.teacher.accuracy:.4f} ({prepared.teacher.source})")
    launcher = Launcher(
        prepared.study, study_file.resolve(), url, spec.trials, plan_workers(workers, gpus), logs, device, batch_trials
    )
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        bar = progress.add_task("trials", total=spec.trials)

        def on_poll(counts: dict[str, int]) -> None:
            done = counts["COMPLETE"] + counts["PRUNED"]
            progress.update(
                bar,
                completed=min(done, spec.trials),
                description=f"trials  running {counts['RUNNING']}  failed {counts['FAIL']}",
            )

        return launcher.run(on_poll=on_poll, stop=stop)


def _report(prepared: Prepared, result: LaunchResult, logs: Path) -> None:
    """Print how the launch ended; exit 130/143 after a signal, 1 if the study is not complete."""
    from tempopt.cli.study_output import print_best

    spec = prepared.spec
    c = result.counts
    out.print(
        f"study [bold]{escape(spec.name)}[/]: {result.finished}/{spec.trials} finished ({c['COMPLETE']} complete, "
        f"{c['PRUNED']} pruned, {c['FAIL']} failed, {c['RUNNING']} running); worker logs in {logs}",
        highlight=False,
    )
    print_best(prepared.study)
    if result.requeued:
        out.print(f"trials {result.requeued} were interrupted and queued again with the same params.")
    if result.stopped_by is not None:
        out.print(f"stopped by {signal.Signals(result.stopped_by).name}; run the same command to resume.")
        raise typer.Exit(code=EXIT_SIGNAL.get(signal.Signals(result.stopped_by), 1))
    if result.finished < spec.trials:
        codes = {i: c for i, c in result.exit_codes.items() if c}
        console.print(
            f"[bold red]error:[/] the study is not complete ({result.finished}/{spec.trials}); workers exited "
            f"with {codes}; see {logs} and run the same command to resume.",
            highlight=False,
        )
        raise typer.Exit(code=1)
