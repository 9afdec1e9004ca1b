"""Attaching a file (the HTML report) to a study as an Optuna artifact.

optuna-dashboard lists a study's artifacts and opens them when it is started with the same
artifact folder (``tempopt dashboard --artifacts DIR``). Each call adds one artifact, so a
study keeps the history of its reports.
"""

from __future__ import annotations

from pathlib import Path

import optuna

from tempopt.study.artifacts import artifact_store, attach_file

__all__ = ["artifact_store", "attach_report"]


def attach_report(study: optuna.Study, path: Path, artifact_dir: Path) -> str:
    """Upload ``path`` (e.g. ``report.html``) as an artifact of ``study``; returns its id.

    Raises:
        TempoptError: the file or the artifact folder cannot be read or written.
    """
    return attach_file(study, path, artifact_dir)
