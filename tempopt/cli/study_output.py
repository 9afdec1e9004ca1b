"""What ``run``, ``status`` and the workers print: progress bars, the summary, the best config,
the Pareto front and the verdict."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import optuna
from optuna.trial import FrozenTrial, TrialState
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tempopt.analysis import best_config, compute_verdict
from tempopt.cli.app import console, out
from tempopt.study.search.metrics import accuracy_of, is_multi, pareto_front
from tempopt.study.storage.retries import retrying
from tempopt.study.stored import PLAN_ATTR, REPLICATE_ATTR, is_baseline, spec_of

if TYPE_CHECKING:
    from tempopt.distill import Teacher
    from tempopt.study.spec.model import StudySpec
    from tempopt.study.trial.running import RunHooks
    from tempopt.study.workers.search_worker import WorkerSummary


def progress_bars(quiet: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
        transient=False,
    )


def bank_progress(progress: Progress) -> Callable[[int, int, int], None]:
    """The progress callback of building the teacher's view bank: its size first, then a bar."""
    bar = progress.add_task("view bank", total=None, visible=False)

    def on_bank(done: int, total: int, nbytes: int) -> None:
        if done == 0:
            console.print(f"building the teacher's view bank: {size_text(nbytes)} (float16)", highlight=False)
        progress.update(bar, visible=done < total, total=total, completed=done)

    return on_bank


def print_bank(teacher: Teacher) -> None:
    """One line on the teacher's view bank, when it has one."""
    if teacher.bank is not None:
        bank = teacher.bank
        console.print(
            f"teacher view bank: {bank.views} views, {size_text(bank.nbytes)} ({bank.source})", highlight=False
        )


def size_text(nbytes: int) -> str:
    """``12.3 MB``: a size in decimal units."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{nbytes} B"


def progress_hooks(progress: Progress, study: optuna.Study, spec: StudySpec) -> RunHooks:
    from tempopt.export import refresh_note
    from tempopt.study.stored import state_counts
    from tempopt.study.trial.running import RunHooks

    counts = state_counts(study)
    trials_bar = progress.add_task(
        "trials", total=spec.trials, completed=min(counts["COMPLETE"] + counts["PRUNED"], spec.trials)
    )
    epoch_bar = progress.add_task("", total=spec.epochs, visible=False)
    best: list[float] = []

    verify_bar = progress.add_task("verifying", total=None, visible=False)

    def name(trial: optuna.Trial | FrozenTrial) -> str:
        replicate = trial.user_attrs.get(REPLICATE_ATTR)
        return f"replicate {replicate}" if replicate else f"trial {trial.number}"

    def on_trial_start(trial: optuna.Trial) -> None:
        if trial.user_attrs.get(REPLICATE_ATTR) and progress.tasks[verify_bar].total is None:
            plan = trial.study.user_attrs.get(PLAN_ATTR) or []
            progress.update(verify_bar, total=len(plan) or None, visible=True, description="verifying")
        progress.update(epoch_bar, completed=0, visible=True, description=name(trial))

    def on_epoch(trial: optuna.Trial, epoch: int, accuracy: float) -> None:
        progress.update(epoch_bar, completed=epoch, description=f"{name(trial)}  val {accuracy:.3f}")

    def on_trial_end(frozen: FrozenTrial) -> None:
        if frozen.user_attrs.get(REPLICATE_ATTR):
            progress.update(verify_bar, visible=True, advance=1 if frozen.state == TrialState.COMPLETE else 0)
            progress.update(epoch_bar, visible=False)
            return
        accuracy = accuracy_of(frozen) if frozen.state == TrialState.COMPLETE else None
        if accuracy is not None and not is_baseline(frozen):  # the search's best: a distilled trial's
            best.append(accuracy)
        c = state_counts(study)
        label = f"trials  best {max(best):.4f} (search, val)" if best else "trials"
        progress.update(trials_bar, completed=min(c["COMPLETE"] + c["PRUNED"], spec.trials), description=label)
        progress.update(epoch_bar, visible=False)

    def on_wait(message: str) -> None:
        progress.update(epoch_bar, visible=True, description=message, completed=0)

    def on_note(message: str) -> None:
        progress.console.print(f"[yellow]note:[/] {escape(message)}", highlight=False, soft_wrap=True)

    return RunHooks(on_trial_start, on_epoch, on_trial_end, on_wait, on_note, on_study_changed=refresh_note)


def print_summary(study: optuna.Study, summary: WorkerSummary) -> None:
    c = summary.counts
    out.print(
        f"study [bold]{escape(summary.study_name)}[/]: {summary.finished}/{summary.total} finished "
        f"({c.get('COMPLETE', 0)} complete, {c.get('PRUNED', 0)} pruned, {c.get('FAIL', 0)} failed, "
        f"{c.get('RUNNING', 0)} running); this worker ran {summary.ran}.",
        highlight=False,
    )
    v = summary.verification
    if v is not None:
        out.print(
            f"verification: {v.complete}/{v.planned} replicates complete ({v.study_name}); this worker ran {v.ran}.",
            highlight=False,
        )
    if summary.stopped_by:
        out.print(f"stopped by {summary.stopped_by}; run the same command again to resume.")
    print_best(study)


def print_best(study: optuna.Study) -> None:
    """The config to use (:func:`tempopt.analysis.best_config`), its labelled figures, and the verdict."""
    verdict = retrying(lambda: compute_verdict(study), "reading the verdict")
    best = retrying(lambda: best_config(study, verdict), "reading the best config")
    if best is None:
        out.print("no completed trial yet.")
        return
    if is_multi(study):
        print_front(study)
    out.print(f"best config, {best.describe()}", highlight=False, soft_wrap=True)
    table = Table(show_header=True)
    table.add_column("param")
    table.add_column("value", justify="right")
    for name, value in best.params.items():
        table.add_row(name, f"{value:.4g}" if isinstance(value, float) else str(value))
    out.print(table)
    teacher = study.user_attrs.get("teacher_accuracy")
    if teacher is not None:
        test = study.user_attrs.get("teacher_test_accuracy")
        out.print(f"teacher: val {teacher:.4f}" + (f", test {test:.4f}" if test is not None else ""), highlight=False)
    colour = {"helped": "green", "hurt": "red"}.get(verdict.verdict, "yellow")
    out.print(
        f"verdict: [bold {colour}]{verdict.verdict}[/] — {escape(verdict.summary)}", highlight=False, soft_wrap=True
    )


def print_front(study: optuna.Study) -> None:
    """A multi-objective study's Pareto front of distilled trials: accuracy against the cost."""
    front = pareto_front(study)
    cost = spec_of(study.user_attrs).get("objectives", ["accuracy", "cost"])[-1]
    table = Table(title=f"Pareto front: {len(front)} distilled trial(s), val accuracy against {cost}")
    for col in ("trial", "val accuracy", cost, "config"):
        table.add_column(col, justify="left" if col == "config" else "right")
    for t in front:
        params = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in t.params.items())
        table.add_row(str(t.number), f"{t.values[0]:.4f}", f"{t.values[1]:.4g}", params)
    out.print(table)


def warn_few_baselines(spec: StudySpec) -> None:
    """Warn, before the first trial, when the study's ``trials`` cannot give a fair verdict."""
    from tempopt.study.search.baseline import few_baselines

    warning = few_baselines(spec)
    if warning is not None:
        console.print(f"[bold yellow]warning:[/] {escape(warning)}", highlight=False)
