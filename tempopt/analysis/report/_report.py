"""Writing the three report files of a study into one folder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import optuna

from tempopt.analysis.findings._study_analysis import StudyAnalysis, analyse_study
from tempopt.analysis.importance._evaluators import ProgressCallback
from tempopt.analysis.report._figures import report_figures
from tempopt.analysis.report._html import render_html
from tempopt.analysis.report._json import importance_to_json
from tempopt.analysis.report._markdown import render_markdown
from tempopt.outputs import check_output_folder, write_text_atomically

REPORT_FILES = ("report.html", "report.md", "importance.json", "verdict.json")


@dataclass(frozen=True)
class ReportFiles:
    """The files :func:`write_report` wrote, and the analysis behind them."""

    html: Path
    markdown: Path
    importance_json: Path
    verdict_json: Path
    analysis: StudyAnalysis


def write_report(
    study: optuna.Study,
    out_dir: Path,
    *,
    storage: str | None = None,
    n_bootstrap: int = 10,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    force: bool = False,
) -> ReportFiles:
    """Analyse ``study`` and write ``report.html``, ``report.md``, ``importance.json`` and
    ``verdict.json``.

    Args:
        study: the study to report on (only read).
        out_dir: the folder to write into; created if missing.
        storage: the storage URL to print in the report, already redacted.
        n_bootstrap: bootstrap resamples behind the importance stability.
        seed: seed of the importance forests and resampling.
        progress: called as ``progress(stage, done, total)``.
        force: write into a folder that holds files other than an earlier report's.

    Every file is written to a temporary file and renamed; ``verdict.json``, the mark of a
    report's folder, last.

    Raises:
        SpecError: ``out_dir`` is refused (:func:`check_report_folder`).
        HostError: ``out_dir`` cannot be created or written.
    """
    check_report_folder(out_dir, force)
    analysis = analyse_study(study, n_bootstrap=n_bootstrap, seed=seed, progress=progress)
    figures = report_figures(study, analysis, progress=progress)
    html, markdown, importance, verdict = (out_dir / name for name in REPORT_FILES)
    files = ReportFiles(html, markdown, importance, verdict, analysis)
    payload = importance_to_json(analysis.importances, analysis.study_name)
    texts = {
        files.html: render_html(analysis, figures, storage),
        files.markdown: render_markdown(analysis, storage),
        files.importance_json: json.dumps(payload, indent=2) + "\n",
        files.verdict_json: json.dumps(analysis.verdict.to_json(), indent=2) + "\n",  # last: the folder's marker
    }
    for path, text in texts.items():
        write_text_atomically(path, text)
    return files


def is_report(folder: Path) -> bool:
    """True if ``folder`` holds a report that tempopt report wrote (its ``verdict.json``)."""
    return (folder / "verdict.json").is_file()


def check_report_folder(out_dir: Path, force: bool = False) -> None:
    """Refuse ``out_dir`` unless it is new or empty, an earlier report, or ``force``d.

    Raises:
        SpecError: ``out_dir`` is a file, holds a database, or holds files report did not write.
    """
    check_output_folder(out_dir, REPORT_FILES, is_report, "report", force)
