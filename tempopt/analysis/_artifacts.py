"""Attaching a file (the HTML report) to a study as an Optuna artifact.

optuna-dashboard lists a study's artifacts and opens them when it is started with the same
artifact folder (``tempopt dashboard --artifacts DIR``). Each call adds one artifact, so a
study keeps the history of its reports.
"""

from __future__ import annotations

from pathlib import Path

import optuna
from optuna.artifacts import FileSystemArtifactStore, upload_artifact

from tempopt.errors import TempoptError


def artifact_store(artifact_dir: Path) -> FileSystemArtifactStore:
    """A file-system artifact store in ``artifact_dir``, created if missing.

    Raises:
        TempoptError: the folder cannot be created.
    """
    try:
        artifact_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TempoptError(
            f"cannot create the artifact folder {artifact_dir} ({e.strerror}); pass "
            "--artifacts with a writable folder."
        ) from e
    return FileSystemArtifactStore(str(artifact_dir))


def attach_report(study: optuna.Study, path: Path, artifact_dir: Path) -> str:
    """Upload ``path`` as an artifact of ``study`` into the store at ``artifact_dir``.

    Args:
        study: the study the file belongs to (its system attrs get the artifact's metadata).
        path: the file to upload, e.g. ``report.html``.
        artifact_dir: the folder of the file-system artifact store.

    Returns:
        The artifact id.

    Raises:
        TempoptError: the file or the artifact folder cannot be read or written.
    """
    if not path.is_file():
        raise TempoptError(f"cannot attach {path}: there is no such file; write the report first.")
    store = artifact_store(artifact_dir)
    try:
        return upload_artifact(artifact_store=store, file_path=str(path), study_or_trial=study)
    except OSError as e:
        raise TempoptError(
            f"cannot attach {path} to study {study.study_name!r} ({e.strerror}); check that "
            "the file exists and the artifact folder is writable."
        ) from e
