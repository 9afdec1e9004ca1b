"""``tempopt export`` and ``train``: a study's best config written out, and a student retrained from it.

Each command imports the library when it runs: ``export`` does not import torch
(``tests/cli/test_startup.py``), ``train`` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from tempopt.cli.app import command, out
from tempopt.cli.study_commands import StorageOption, storage_url
from tempopt.errors import SpecError
from tempopt.study.spec.defaults import SEED_LIMIT

if TYPE_CHECKING:
    import optuna


@command("export")
def export_command(
    study: str = typer.Option(..., "--study", help="Study name."),
    storage: str | None = StorageOption,
    out_path: Path = typer.Option(Path("best.yaml"), "--out", help="File to write."),
    fmt: str | None = typer.Option(None, "--format", help="yaml or json (default: from --out's suffix)."),
    top_k: int = typer.Option(1, "--top-k", min=1, help="Also list the K best trials."),
    pareto: bool = typer.Option(
        False,
        "--pareto",
        help="Multi-objective study: write every Pareto front member "
        "as --out DIR/trial-N.yaml (--out is then a folder).",
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite a file that is not an earlier export."),
) -> None:
    """Write the best configuration (params, value, task, epochs, seed, teacher, versions)."""
    from tempopt.analysis import BestConfig
    from tempopt.export import check_export_path, export_best, write_export
    from tempopt.study.storage.opening import load_study

    url = storage_url(storage)
    if pareto:
        _export_front(load_study(study, url), url, out_path, fmt, force)
        return
    check_export_path(out_path, force)  # before the study is read: nothing shown for a refused path
    data = export_best(load_study(study, url), url, top_k=top_k)
    existed = out_path.is_file()
    path = write_export(data, out_path, fmt, force)
    verb = "overwrote" if existed else "wrote"
    out.print(f"{verb} {path}: {BestConfig.from_json(data['best']).describe()}", highlight=False, soft_wrap=True)
    verdict = data["verdict"]
    out.print(f"verdict: {verdict['verdict']} — {verdict['summary']}", highlight=False, soft_wrap=True)


def _export_front(study: optuna.Study, url: str, folder: Path, fmt: str | None, force: bool) -> None:
    from tempopt.export import check_export_path, export_pareto, write_export

    if folder.exists() and not folder.is_dir():
        raise SpecError(f"--out {str(folder)!r} is a file; with --pareto give a folder for the front's files.")
    members = export_pareto(study, url)
    suffix = "." + (fmt or "yaml")
    for stem in members:
        check_export_path(folder / f"{stem}{suffix}", force)  # every file before the first is written
    for stem, data in members.items():
        path = write_export(data, folder / f"{stem}{suffix}", fmt, force)
        values = ", ".join(f"{k} {v:.4g}" for k, v in data["values"].items())
        out.print(f"wrote {path}: {values} · verdict {data['verdict']['verdict']}", highlight=False)


@command("train")
def train_command(
    config: Path = typer.Argument(..., help="A file written by tempopt export."),
    out_dir: Path = typer.Option(Path("runs/best"), "--out", help="Folder for student.pt and metrics.json."),
    device: str | None = typer.Option(None, "--device", help="auto, cpu, cuda or cuda:N."),
    seed: int | None = typer.Option(
        None,
        "--seed",
        min=0,
        max=SEED_LIMIT - 1,
        help="Student seed (default: the export's; a verification seed reproduces that replicate).",
    ),
    force: bool = typer.Option(
        False, "--force", help="Write into a folder that holds files other than an earlier train's."
    ),
) -> None:
    """Retrain the student from an exported config and save its state_dict and metrics."""
    from tempopt.cli.study_output import progress_bars
    from tempopt.export import check_retrain, retrain

    check_retrain(config, out_dir, force)  # a bad export or --out: one sentence before any progress bar
    with progress_bars(False) as progress:
        bar = progress.add_task("retraining", total=None)

        def on_epoch(epoch: int, accuracy: float) -> bool:
            progress.update(bar, completed=epoch, description=f"retraining  val {accuracy:.3f}")
            return False

        result = retrain(config, out_dir, device=device, on_epoch=on_epoch, seed=seed, force=force)
    r = result.result
    out.print(
        f"val accuracy {r.final_accuracy:.4f}, {r.test_split} accuracy {r.test_accuracy:.4f} after "
        f"{r.epochs_run} epochs on {r.device}",
        highlight=False,
    )
    if result.exported_value is not None:
        out.print(
            f"recorded by the study for this seed: {result.exported_value:.4f} (difference {result.difference:+.4f})",
            highlight=False,
        )
    out.print(f"wrote {result.out_dir / 'student.pt'} and {result.out_dir / 'metrics.json'}", highlight=False)
