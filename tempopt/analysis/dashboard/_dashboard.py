"""optuna-dashboard on a tempopt storage, and the note that tells a study's spec there."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import optuna

from tempopt.analysis.verdict._best import best_config
from tempopt.analysis.verdict._compute import compute_verdict
from tempopt.errors import HostError
from tempopt.study.storage.artifacts import artifact_store
from tempopt.study.storage.opening import open_existing_storage
from tempopt.study.stored import SPEC_ATTR


def is_exposed(host: str) -> bool:
    """True when binding ``host`` lets other machines reach the server (not loopback)."""
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: assume it resolves to a reachable interface
        return True


def serve_dashboard(
    storage_url: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    artifact_dir: Path | None = None,
) -> None:
    """Run optuna-dashboard on an existing storage until interrupted (blocking).

    The dashboard has no authentication and can edit studies; keep ``host`` on loopback and
    reach it through an SSH tunnel from elsewhere.

    Args:
        storage_url: the study storage URL.
        host: the address to bind.
        port: the port to listen on.
        artifact_dir: a file-system artifact store to show (where ``tempopt report
            --artifacts`` put reports).

    Raises:
        StorageError: the storage is missing or unreachable.
        HostError: the port cannot be bound.
    """
    import optuna_dashboard  # scikit-learn with it: imported only to serve

    storage = open_existing_storage(storage_url)
    store = artifact_store(artifact_dir) if artifact_dir is not None else None
    try:
        optuna_dashboard.run_server(storage, host=host, port=port, artifact_store=store)
    except OSError as e:
        raise HostError(f"cannot listen on {host}:{port} ({e.strerror}); pass --port with a free port.") from e


def spec_note(study: optuna.Study) -> str:
    """A Markdown summary of the study's spec (user attr ``spec``) for the dashboard."""
    attrs = study.user_attrs
    spec = attrs.get(SPEC_ATTR)
    lines = [f"## {study.study_name}", ""]
    if not isinstance(spec, dict):
        return "\n".join(lines + ["This study has no `spec` user attr (not written by tempopt)."])
    facts = [
        f"{key}: **{_compact(spec[key])}**"
        for key in ("task", "epochs", "trials", "batch_size", "seed", "sampler", "pruner")
        if key in spec
    ]
    lines += [" · ".join(facts), ""]
    if spec.get("task_args"):
        lines += [f"task args: `{_compact(spec['task_args'])}`", ""]
    lines += _search_table(spec.get("search"))
    extra = [f"{k}: {_compact(attrs[k])}" for k in ("teacher_accuracy", "teacher_key", "tempopt_version") if k in attrs]
    if extra:
        lines += ["", " · ".join(extra)]
    verdict = compute_verdict(study)
    lines += ["", f"**Verdict:** {verdict.summary}"]
    best = best_config(study, verdict)
    if best is not None:
        params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in best.params.items())
        lines += ["", f"**Best configuration:** {best.describe()}; `{params}`. {best.why}"]
    lines += ["", f"Full report: `tempopt report --study {study.study_name} --out DIR`"]
    return "\n".join(lines)


def _search_table(search: Any) -> list[str]:
    if not isinstance(search, dict) or not search:
        return []
    rows = ["| param | range |", "| --- | --- |"]
    for name, space in search.items():
        if isinstance(space, dict) and {"low", "high"} <= space.keys():
            scale = " (log)" if space.get("log") else ""
            text = f"{space['low']} – {space['high']}{scale}"
        elif isinstance(space, (int, float)) and not isinstance(space, bool):
            text = f"{space} (fixed)"
        else:
            text = _compact(space)
        rows.append(f"| {name} | {text} |")
    return rows


def _compact(value: Any) -> str:
    """``tpe(startup_trials=10)`` for a named component, compact JSON for other containers."""
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        args = ", ".join(f"{k}={v}" for k, v in value.items() if k != "name")
        return f"{value['name']}({args})"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(", ", ": "), default=str)
    return str(value)
