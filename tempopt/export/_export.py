"""Exporting the best configuration of a study, and reading it back to retrain."""

from __future__ import annotations

import importlib.metadata
import json
import platform
from pathlib import Path
from typing import Any

import optuna
import optuna.artifacts
import yaml
from optuna.trial import FrozenTrial, TrialState

import tempopt
from tempopt.errors import SpecError, StorageError
from tempopt.outputs import check_output_file, write_text_atomically
from tempopt.study.optuna_internals import storage_of
from tempopt.study.search.metrics import accuracy_of, complete_with_accuracy, is_multi, pareto_front
from tempopt.study.siblings import require_search
from tempopt.study.spec.model import StudySpec, parse_spec
from tempopt.study.storage.opening import redact_url
from tempopt.study.stored import SPEC_ATTR, TEACHER_KEY_ATTR, baseline_trials, student_alone

EXPORT_FORMAT = 1


def versions() -> dict[str, str]:
    """Versions of the packages a result depends on (torch's read from its metadata: exporting
    a study does not import it)."""
    import numpy

    return {
        "tempopt": tempopt.__version__,
        "optuna": str(optuna.__version__),
        "torch": importlib.metadata.version("torch"),
        "numpy": str(numpy.__version__),
        "python": platform.python_version(),
    }


def ranked_trials(study: optuna.Study, baselines: bool = False) -> list[FrozenTrial]:
    """COMPLETE trials with a finite value, best first: the search's, or with ``baselines`` its
    baseline trials (the student alone)."""
    if baselines:
        done = baseline_trials(study, states=(TrialState.COMPLETE,))
    else:
        done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    done = complete_with_accuracy(done)
    return sorted(done, key=lambda t: (-accuracy_of(t), t.number))  # type: ignore[operator]


def export_best(study: optuna.Study, storage_url: str, top_k: int = 1) -> dict[str, Any]:
    """The study's best configuration as plain data (never the storage password).

    The config every command shows (:func:`tempopt.analysis.best_config`): once verified, the
    distilled config with the best mean validation accuracy over the verification seeds, else the
    best trial of the search. ``value`` and ``seed`` are the search trial's (``tempopt train``
    reproduces them); ``best`` says whether it is verified and labels each of its figures;
    ``verdict`` holds the verdict and every verification seed's figures (``tempopt train --seed
    S`` reproduces those).

    Args:
        study: a tempopt study.
        storage_url: where it lives; written masked.
        top_k: also list the k best trials under ``top``.

    Raises:
        StateError: the study is a sibling, or was not made by tempopt.
        StorageError: the study has no completed trial.
    """
    require_search(study.study_name, study.user_attrs, "export")
    spec = study.user_attrs[SPEC_ATTR]
    ranked = ranked_trials(study)
    if not ranked:
        raise StorageError(
            f"study {study.study_name!r} has no completed trial yet; run it first (tempopt run STUDY.yaml)."
        )
    from tempopt.analysis import best_config, compute_verdict  # here: tempopt.analysis imports tempopt.study

    verdict = compute_verdict(study)
    chosen = best_config(study, verdict)
    assert chosen is not None  # there is a completed trial
    best = next(t for t in ranked if t.number == chosen.trial)
    data = _trial_data(study, best, spec, verdict.to_json(), storage_url, ranked)
    data["best"] = chosen.to_json()
    if top_k > 1:
        data["top"] = [{"trial": t.number, "value": accuracy_of(t), "params": dict(t.params)} for t in ranked[:top_k]]
    return data


def export_pareto(study: optuna.Study, storage_url: str) -> dict[str, dict[str, Any]]:
    """Every member of a multi-objective study's Pareto front (distilled trials) as an export of
    its own, by file stem ``trial-N``: retrainable with ``tempopt train``; a verified member's
    ``verdict`` is its own, against the student alone of the same size.

    Raises:
        StateError: a sibling, or not a tempopt study.
        StorageError: not multi-objective, or nothing on the front yet.
    """
    require_search(study.study_name, study.user_attrs, "export")
    spec = study.user_attrs[SPEC_ATTR]
    if not is_multi(study):
        raise StorageError(
            f"study {study.study_name!r} has one objective, so no Pareto front; "
            "drop --pareto, or give the study objectives: [accuracy, params]."
        )
    front = pareto_front(study)
    if not front:
        raise StorageError(f"study {study.study_name!r} has no completed distilled trial yet; run it first.")
    from tempopt.analysis import member_verdicts, unverified_verdict

    own = member_verdicts(study)
    missing = unverified_verdict(
        "this front member was not among the members verified (verify.top_k spread along the front)"
        if own
        else "the front has not been verified yet"
    )
    ranked = ranked_trials(study)
    out = {}
    for t in front:
        verdict = (own[t.number] if t.number in own else missing).to_json()
        data = _trial_data(study, t, spec, verdict, storage_url, ranked)
        data["values"] = dict(zip(spec.get("objectives", ["accuracy"]), t.values, strict=True))
        out[f"trial-{t.number}"] = data
    return out


def _trial_data(
    study: optuna.Study,
    best: FrozenTrial,
    spec: dict[str, Any],
    verdict: dict[str, Any],
    storage_url: str,
    ranked: list[FrozenTrial],
) -> dict[str, Any]:
    """One trial's export: what ``tempopt train`` needs, and where it came from."""
    baseline = next(iter(ranked_trials(study, baselines=True)), None)
    data: dict[str, Any] = {
        "tempopt_export": EXPORT_FORMAT,
        "study": study.study_name,
        "storage": redact_url(storage_url),
        "trial": best.number,
        "value": accuracy_of(best),
        "params": dict(best.params),
        "fixed": fixed_values(spec, best),
        "spec": spec,
        "teacher": {
            "key": study.user_attrs.get(TEACHER_KEY_ATTR),
            "accuracy": study.user_attrs.get("teacher_accuracy"),
        },
        "baseline": None if baseline is None else {"trial": baseline.number, "value": accuracy_of(baseline)},
        "verdict": verdict,
        "versions": versions(),
    }
    data["task"], data["epochs"], data["seed"] = spec["task"], spec["epochs"], spec["seed"]
    checkpoints = optuna.artifacts.get_all_artifact_meta(best, storage=storage_of(study))
    if checkpoints:
        data["checkpoint"] = {
            "artifact_id": checkpoints[-1].artifact_id,
            "filename": checkpoints[-1].filename,
            "artifacts": spec.get("artifacts"),
        }
    return data


def fixed_values(spec: dict[str, Any], trial: FrozenTrial) -> dict[str, Any]:
    """What the trial's job used that is no trial param: the values the study file fixes
    (``search: {lr: 0.01}``), and kd_weight 0 for the student alone."""
    search = spec.get("search") or {}
    fixed = {k: v for k, v in search.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    if student_alone(trial) and "kd_weight" not in trial.params:
        fixed["kd_weight"] = 0.0
    return fixed


def is_export(path: Path) -> bool:
    """True if ``path`` is a file that tempopt export wrote (it has the ``tempopt_export`` key)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))  # JSON is YAML too
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and "tempopt_export" in data


def check_export_path(path: str | Path, force: bool = False) -> None:
    """Refuse ``path`` as an export's file unless it is new, an earlier export, or ``force``d.

    Raises:
        SpecError: ``path`` is a database, a folder or a file export did not write.
    """
    check_output_file(Path(path), is_export, "export", force)


def write_export(data: dict[str, Any], path: str | Path, fmt: str | None = None, force: bool = False) -> Path:
    """Write an export as YAML or JSON (chosen by ``fmt`` or the file suffix), atomically.

    Args:
        force: overwrite a file that is not an earlier export (never a database).

    Raises:
        SpecError: ``fmt`` is unknown, or ``path`` is refused (:func:`check_export_path`).
        HostError: the file cannot be written.
    """
    path = Path(path)
    fmt = fmt or ("json" if path.suffix == ".json" else "yaml")
    if fmt not in ("yaml", "json"):
        raise SpecError(f"--format {fmt!r} is not known; use yaml or json.")
    check_export_path(path, force)
    text = json.dumps(data, indent=2) if fmt == "json" else yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    write_text_atomically(path, text)
    return path


def read_export(path: str | Path) -> tuple[dict[str, Any], StudySpec]:
    """Read an exported file back: its data and the study spec inside it.

    Raises:
        SpecError: not a file, not YAML/JSON, or not a tempopt export.
    """
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"exported config {str(path)!r} does not exist; create it with tempopt export.")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))  # JSON is YAML too
    except yaml.YAMLError as e:
        raise SpecError(f"{path} is neither YAML nor JSON ({e}); export it again with tempopt export.") from None
    if not isinstance(data, dict) or data.get("tempopt_export") != EXPORT_FORMAT:
        raise SpecError(f"{path} is not a tempopt export (key 'tempopt_export: {EXPORT_FORMAT}' missing).")
    for key in ("params", "spec"):
        if not isinstance(data.get(key), dict):
            raise SpecError(f"{path}: key {key!r} is missing or not a mapping; export it again.")
    spec = parse_spec(dict(data["spec"]), source=f"{path} (key 'spec')")
    check_fixed(data.get("fixed") or {}, spec, source=str(path))
    check_params(data["params"], spec, source=str(path), fixed=data.get("fixed") or {})
    if "seed" in data and (isinstance(data["seed"], bool) or not isinstance(data["seed"], int) or data["seed"] < 0):
        raise SpecError(f"{path}: key 'seed' must be a whole number >= 0, got {data['seed']!r}; export it again.")
    return data, spec


def check_fixed(fixed: Any, spec: StudySpec, source: str) -> None:
    """The export's ``fixed`` values are the study file's (and kd_weight 0, the student alone's).

    Raises:
        SpecError: a value the study file does not fix, or fixes otherwise (one sentence).
    """
    if not isinstance(fixed, dict):
        raise SpecError(f"{source}: key 'fixed' must be a mapping of names to values; export it again.")
    for name, value in fixed.items():
        if value != spec.search.fixed().get(name) and not (name == "kd_weight" and value == 0):
            raise SpecError(
                f"{source}: fixed.{name} = {value!r} is not what the study file fixes "
                f"(search.{name}: {spec.search.fixed().get(name, 'not fixed')}); export it again."
            )


def check_params(params: dict[str, Any], spec: StudySpec, source: str, fixed: dict[str, Any] | None = None) -> None:
    """Every searched parameter present (or fixed: the student alone's kd_weight 0), and a value
    its dimension could have produced.

    Raises:
        SpecError: a missing, unknown, non-numeric or out-of-range parameter (one sentence).
    """
    from tempopt.study.optuna_internals import contains
    from tempopt.study.search.space import active_distributions

    space = {k: d for k, d in active_distributions(spec, params).items() if k in params or k not in (fixed or {})}
    for name in sorted(set(space) - set(params)):
        raise SpecError(f"{source}: params has no {name!r}; export it again or add the searched value.")
    for name in sorted(set(params) - set(space)):
        raise SpecError(f"{source}: params has {name!r}, which the study does not search; remove it.")
    for name, dist in space.items():
        value = params[name]
        if isinstance(value, bool) or not contains(dist, value):
            raise SpecError(
                f"{source}: params.{name} = {value!r} is not a value of search.{name} ({dist}); export it again."
            )
