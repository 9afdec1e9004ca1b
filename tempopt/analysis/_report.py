"""Writing the three report files of a study into one folder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import optuna

from tempopt.analysis._figures import report_figures
from tempopt.analysis._html import render_html
from tempopt.analysis._importance import ProgressCallback
from tempopt.analysis._json import importance_to_json
from tempopt.analysis._markdown import render_markdown
from tempopt.analysis._study_analysis import StudyAnalysis, analyse_study
from tempopt.errors import TempoptError


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

    Raises:
        TempoptError: ``out_dir`` cannot be created or written.
    """
    analysis = analyse_study(study, n_bootstrap=n_bootstrap, seed=seed, progress=progress)
    figures = report_figures(study, analysis, progress=progress)
    files = ReportFiles(
        out_dir / "report.html", out_dir / "report.md", out_dir / "importance.json", out_dir / "verdict.json", analysis
    )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        files.html.write_text(render_html(analysis, figures, storage), encoding="utf-8")
        files.markdown.write_text(render_markdown(analysis, storage), encoding="utf-8")
        payload = importance_to_json(analysis.importances, analysis.study_name)
        files.importance_json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        files.verdict_json.write_text(json.dumps(analysis.verdict.to_json(), indent=2) + "\n", encoding="utf-8")
    except OSError as e:
        raise TempoptError(
            f"cannot write the report into {out_dir} ({e.strerror}); pass --out with a writable folder."
        ) from e
    return files
