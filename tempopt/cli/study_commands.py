"""``tempopt run`` and ``status``, and the options every study command shares (``--storage``).

Each command imports the library when it runs: ``tempopt --help`` imports none of it, and
``status`` does not import torch (``tests/cli/test_startup.py``).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from tempopt.cli.app import STORAGE_HELP, command, console, out
from tempopt.study.spec.defaults import DEFAULT_STORAGE, MAX_TRIALS

if TYPE_CHECKING:
    import optuna

    from tempopt.study.spec.model import StudySpec

EXIT_SIGNAL: dict[int, int] = {signal.SIGINT: 130, signal.SIGTERM: 143}


def storage_url(option: str | None, spec: StudySpec | None = None) -> str:
    """``--storage`` (or ``$TEMPOPT_STORAGE``), else the study file's ``storage``, else SQLite."""
    if option:
        return option
    if spec is not None and spec.storage:
        return spec.storage
    return DEFAULT_STORAGE


StorageOption = typer.Option(
    None, "--storage", envvar="TEMPOPT_STORAGE", show_envvar=True, help=STORAGE_HELP + " Default: " + DEFAULT_STORAGE
)


@command("run")
def run_command(
    study_file: Path = typer.Argument(..., help="The study file (studies/*.yaml)."),
    storage: str | None = StorageOption,
    trials: int | None = typer.Option(
        None, "--trials", min=1, max=MAX_TRIALS, help="Total finished trials (overrides the file)."
    ),
    device: str | None = typer.Option(None, "--device", help="auto, cpu, cuda or cuda:N (overrides the file)."),
    worker_index: int = typer.Option(
        0, "--worker-index", min=0, help="This worker's index among workers started together (varies the sampler seed)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    batch_trials: int | None = typer.Option(
        None, "--batch-trials", min=1, max=256, help="Trials trained together in one pass (overrides the file)."
    ),
) -> None:
    """Create or resume a study and run trials until it has its total of finished trials."""
    from tempopt.cli.study_output import (
        bank_progress,
        print_bank,
        print_summary,
        progress_bars,
        progress_hooks,
        warn_few_baselines,
    )
    from tempopt.export import refresh_note
    from tempopt.stopping import StopFlag
    from tempopt.study.spec.model import load_spec
    from tempopt.study.storage.opening import check_still_there, redact_url, sqlite_identity
    from tempopt.study.workers.search_worker import run_worker
    from tempopt.study.workers.setup import prepare_study

    spec = load_spec(study_file)
    updates = {
        k: v for k, v in {"trials": trials, "device": device, "batch_trials": batch_trials}.items() if v is not None
    }
    spec = spec.model_copy(update=updates)
    apply_thread_limit(spec.cpu_threads)
    url = storage_url(storage, spec)
    console.print(
        f"study [bold]{escape(spec.name)}[/] · task {escape(spec.task)} · storage {escape(redact_url(url))}",
        highlight=False,
    )
    warn_few_baselines(spec)
    with StopFlag().installed() as stop, progress_bars(quiet) as progress:
        teacher_bar = progress.add_task("teacher", total=None, visible=False)

        def on_teacher_epoch(epoch: int, accuracy: float) -> bool:
            progress.update(
                teacher_bar,
                visible=True,
                total=spec.teacher.epochs,
                completed=epoch,
                description=f"teacher  val {accuracy:.3f}",
            )
            return False

        on_bank = bank_progress(progress)
        prepared = prepare_study(spec, url, worker_index, on_teacher_epoch, stop, on_bank, refresh_note)
        database = sqlite_identity(url)
        progress.update(teacher_bar, visible=False)
        teacher = prepared.teacher
        if teacher is not None:
            console.print(f"teacher: val accuracy {teacher.accuracy:.4f} ({teacher.source})", highlight=False)
            print_bank(teacher)
        summary = run_worker(
            prepared.study,
            spec,
            prepared.task,
            teacher,
            spec.trials,
            stop,
            progress_hooks(progress, prepared.study, spec),
        )
    check_still_there(url, database)
    print_summary(prepared.study, summary)
    if summary.stopped_by:
        raise typer.Exit(code=EXIT_SIGNAL.get(stop.signum or signal.SIGTERM, 1))


def apply_thread_limit(cpu_threads: int | None) -> None:
    """Limit torch's CPU threads to the study's ``cpu_threads`` and to ``$TEMPOPT_NUM_THREADS``
    (this worker's share, set by ``tempopt launch``), whichever is smaller."""
    from tempopt.distill.device import limit_cpu_threads

    limit_cpu_threads(cpu_threads, int(os.environ.get("TEMPOPT_NUM_THREADS") or 0))


@command("status")
def status_command(
    storage: str | None = StorageOption,
    study: str | None = typer.Option(None, "--study", help="Study name (default: list every study)."),
) -> None:
    """Trials by state and the best so far, for one study or every study in the storage."""
    from optuna.trial import TrialState
    from rich.table import Table

    from tempopt.cli.study_output import print_best
    from tempopt.study.storage.opening import load_study, redact_url
    from tempopt.study.stored import load_verification, pending, state_counts
    from tempopt.study.workers.service import budget

    url = storage_url(storage)
    if study is None:
        _list_studies(url)
        return
    s = load_study(study, url)
    counts = state_counts(s)
    total = budget(s)  # the record's, as `tempopt studies` shows it: --trials of submit, run and launch
    out.print(
        f"study [bold]{escape(s.study_name)}[/] in {escape(redact_url(url))} · task "
        f"{escape(str(s.user_attrs.get('task', '?')))}",
        highlight=False,
    )
    table = Table(show_header=True)
    for state in ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING"):
        table.add_column(state.lower(), justify="right")
    table.add_row(*(str(counts[s_]) for s_ in ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING")))
    out.print(table)
    out.print(f"finished {counts['COMPLETE'] + counts['PRUNED']} of {'?' if total is None else total}", highlight=False)
    running = s.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for t in running:
        steps = max(t.intermediate_values) if t.intermediate_values else 0
        out.print(f"  running: trial {t.number} on {t.user_attrs.get('worker', '?')}, epoch {steps}", highlight=False)
    verification = load_verification(s)
    if verification is not None:
        planned, complete, open_ = pending(verification)
        out.print(
            f"verification: {complete}/{planned} replicates complete, {open_} running or queued "
            f"({verification.study_name})",
            highlight=False,
        )
    print_best(s)


def _list_studies(url: str) -> None:
    """Every study of the storage once, its siblings (verification, the student alone) under it."""
    import optuna
    from rich.table import Table

    from tempopt.study.siblings import grouped
    from tempopt.study.storage.opening import open_existing_storage, redact_url

    storage = open_existing_storage(url)
    summaries = optuna.get_all_study_summaries(storage=storage, include_best_trial=True)
    if not summaries:
        out.print(f"no studies in {redact_url(url)}.", highlight=False)
        return
    table = Table(title=f"studies in {redact_url(url)}")
    for col in ("study", "trials", "best config"):
        table.add_column(col)
    for study, siblings in grouped(summaries, lambda s: s.study_name, lambda s: s.user_attrs):
        table.add_row(*_list_row(study, storage))
        for sibling in siblings:
            table.add_row(*_list_row(sibling, storage, indent="  └ "))
    out.print(table)


def _list_row(
    s: optuna.study.StudySummary, storage: optuna.storages.BaseStorage, indent: str = ""
) -> tuple[str, str, str]:
    """A study's name, trials and best: a tempopt search's best config (the verdict's once
    verified), the student alone's best value; a verification study's replicates have no best
    (each retrains a config of the search with its own seed: their maximum means nothing)."""
    import optuna

    from tempopt.analysis import best_config
    from tempopt.study.siblings import is_verification
    from tempopt.study.stored import SPEC_ATTR

    if is_verification(s.study_name):
        return indent + s.study_name, f"{s.n_trials} replicate{'' if s.n_trials == 1 else 's'}", "-"
    if isinstance(s.user_attrs.get(SPEC_ATTR), dict):
        best = best_config(optuna.load_study(study_name=s.study_name, storage=storage))
        return indent + s.study_name, str(s.n_trials), "-" if best is None else best.short()
    value = s.best_trial.value if s.best_trial is not None else None
    return indent + s.study_name, str(s.n_trials), "-" if value is None else f"{value:.4f} (val)"
