"""``tempopt report`` and ``tempopt dashboard``: read a study, write a report or serve it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tempopt.cli.app import STORAGE_HELP, command, console, out
from tempopt.study.spec.defaults import DEFAULT_STORAGE

if TYPE_CHECKING:
    from rich.progress import Progress

StorageOption = Annotated[str, typer.Option("--storage", envvar="TEMPOPT_STORAGE", help=STORAGE_HELP)]
ArtifactsOption = Annotated[
    Path | None,
    typer.Option(
        "--artifacts",
        help="Folder of a file-system artifact store: `report` attaches "
        "report.html to the study there, `dashboard` shows what it holds.",
    ),
]


@command("report")
def report(
    study: Annotated[str, typer.Option("--study", help="Name of the study to report on.")],
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for report.html, report.md and importance.json (created if missing).")
    ],
    storage: StorageOption = DEFAULT_STORAGE,
    artifacts: ArtifactsOption = None,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", min=0, help="Bootstrap resamples behind the importance error bars.")
    ] = 10,
    seed: Annotated[
        int, typer.Option("--seed", min=0, max=2**31 - 1, help="Seed of the importance forests and resampling.")
    ] = 0,
    force: Annotated[
        bool, typer.Option("--force", help="Write into a folder that holds files other than an earlier report's.")
    ] = False,
) -> None:
    """Write an offline HTML report, a Markdown summary and the importances of a study."""
    from rich.progress import TaskID

    from tempopt.analysis import check_report_folder, read_study, write_report
    from tempopt.study.siblings import require_search
    from tempopt.study.storage.artifacts import attach_file
    from tempopt.study.storage.opening import redact_url

    check_report_folder(out_dir, force)
    loaded = read_study(study, storage)
    require_search(loaded.study_name, loaded.user_attrs, "report on")
    with _progress() as bar:
        tasks: dict[str, TaskID] = {}

        def advance(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        files = write_report(
            loaded,
            out_dir,
            storage=redact_url(storage),
            n_bootstrap=bootstrap,
            seed=seed,
            progress=advance,
            force=force,
        )
    if artifacts is not None:
        artifact_id = attach_file(loaded, files.html, artifacts)
        console.print(f"attached report.html to study {study!r} as artifact {artifact_id}", highlight=False)
    out.print(files.analysis.verdict.summary, highlight=False, soft_wrap=True)
    for path in (files.html, files.markdown, files.importance_json, files.verdict_json):
        out.print(f"wrote {path}", highlight=False, soft_wrap=True)


@command("dashboard")
def dashboard(
    storage: StorageOption = DEFAULT_STORAGE,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind; 0.0.0.0 exposes the dashboard to the network.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8080,
    artifacts: ArtifactsOption = None,
) -> None:
    """Serve optuna-dashboard on the study storage (Ctrl-C to stop)."""
    from tempopt.analysis import is_exposed, serve_dashboard
    from tempopt.study.storage.opening import redact_url

    if is_exposed(host):
        console.print(
            f"[bold yellow]warning:[/] binding {host} lets anyone who reaches port {port} read "
            "and edit your studies (the dashboard has no login); prefer 127.0.0.1 and an SSH "
            "tunnel.",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        f"optuna-dashboard for {redact_url(storage)} at http://{host}:{port}/dashboard (Ctrl-C to stop)",
        highlight=False,
        soft_wrap=True,
    )
    serve_dashboard(storage, host=host, port=port, artifact_dir=artifacts)


def _progress() -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
