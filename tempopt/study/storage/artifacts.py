"""Files attached to studies and trials as Optuna artifacts (a file-system artifact store).

optuna-dashboard lists a study's and a trial's artifacts, and opens them when it is started with
the same folder (``tempopt dashboard --artifacts DIR``). tempopt attaches the report to the
study (``tempopt report --artifacts DIR``) and, when the study file sets ``artifacts: DIR``,
the student checkpoint of every trial that improved on the best accuracy so far.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import optuna
import torch
from optuna.artifacts import FileSystemArtifactStore, upload_artifact
from torch import nn

from tempopt.errors import HostError


def artifact_store(artifact_dir: Path) -> FileSystemArtifactStore:
    """A file-system artifact store in ``artifact_dir``, created if missing.

    Raises:
        HostError: the folder cannot be created.
    """
    try:
        artifact_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise HostError(
            f"cannot create the artifact folder {artifact_dir} ({e.strerror}); use a writable folder."
        ) from e
    return FileSystemArtifactStore(str(artifact_dir))


def attach_file(target: optuna.Study | optuna.Trial, path: Path, artifact_dir: Path) -> str:
    """Upload ``path`` as an artifact of a study or a trial; returns the artifact id.

    Raises:
        HostError: the file or the artifact folder cannot be read or written.
    """
    if not path.is_file():
        raise HostError(f"cannot attach {path}: there is no such file.")
    store = artifact_store(artifact_dir)
    try:
        return upload_artifact(artifact_store=store, file_path=str(path), study_or_trial=target)
    except OSError as e:
        raise HostError(f"cannot attach {path} ({e.strerror}); check that the artifact folder is writable.") from e


def attach_checkpoint(trial: optuna.Trial, model: nn.Module, artifact_dir: Path) -> str:
    """Upload the model's state_dict as ``student-trial-N.pt``, an artifact of the trial."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"student-trial-{trial.number}.pt"
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, path)
        return attach_file(trial, path, artifact_dir)
