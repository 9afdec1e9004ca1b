"""Every malformed study file exits 2 with one sentence naming the key, and writes nothing."""

from __future__ import annotations

import pytest

from tests.cli.conftest import tiny_spec, write_spec

SEARCH = {
    "temperature": {"low": 1.0, "high": 20.0, "log": True},
    "kd_weight": {"low": 0.0, "high": 1.0},
    "lr": {"low": 1.0e-4, "high": 1.0e-1, "log": True},
}


def _search(**changes):
    search = {k: dict(v) for k, v in SEARCH.items()}
    for key, value in changes.items():
        search[key].update(value)
    return search


CASES = [
    ("unknown key", {"epoch": 3}, "unknown key 'epoch'"),
    ("unknown search key", {"search": {**SEARCH, "momentum": {"low": 0, "high": 1}}}, "unknown key 'search.momentum'"),
    ("low > high", {"search": _search(temperature={"low": 30.0})}, "low=30 is greater than high=20"),
    ("log with low <= 0", {"search": _search(lr={"low": 0.0})}, "'search.lr': log: true needs low > 0"),
    ("kd_weight above 1", {"search": _search(kd_weight={"high": 1.5})}, "kd_weight must lie within [0, 1]"),
    ("kd_weight below 0", {"search": _search(kd_weight={"low": -0.1})}, "kd_weight must lie within [0, 1]"),
    ("unknown task", {"task": "cifar1000"}, "unknown task 'cifar1000'"),
    ("unimportable task module", {"task": "no_such_pkg.mod:make_task"}, "module 'no_such_pkg.mod' cannot be imported"),
    ("missing task attribute", {"task": "tempopt.tasks.digits:nope"}, "has no callable 'nope'"),
    ("bad task_args", {"task_args": {"colour": "red"}}, "task_args ['colour'] do not fit task 'digits'"),
    ("missing required key", {"trials": None}, "'trials'"),
    ("zero epochs", {"epochs": 0}, "'epochs'"),
    ("unknown pruner", {"pruner": {"name": "quantile"}}, "'pruner.name'"),
    ("warm-up too long", {"pruner": {"name": "median", "warmup_epochs": 10}}, "pruner.warmup_epochs=10"),
    ("baseline lr out of range", {"baseline_lrs": [1.0]}, "baseline_lrs value 1 lies outside search.lr"),
    ("unknown loss", {"loss": "crd"}, "unknown loss 'crd'"),
]


@pytest.mark.parametrize("case, overrides, message", CASES, ids=[c[0] for c in CASES])
def test_malformed_spec_exits_2_and_leaves_no_storage(tmp_path, cli, case, overrides, message):
    spec = tiny_spec(tmp_path, **overrides)
    spec = {k: v for k, v in spec.items() if v is not None}
    path = write_spec(tmp_path, **{k: v for k, v in overrides.items() if v is not None})
    if "trials" in overrides and overrides["trials"] is None:
        import yaml

        path.write_text(yaml.safe_dump(spec))
    db = tmp_path / "studies.db"
    result = cli("run", path, "--storage", f"sqlite:///{db}")
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert result.output.count("error:") == 1
    assert "Traceback" not in result.output
    assert not db.exists()


def test_bad_yaml_names_the_line(tmp_path, cli):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\ntask: digits\nsearch: {temperature: [1, 2\n")
    result = cli("run", path, "--storage", f"sqlite:///{tmp_path / 's.db'}")
    assert result.exit_code == 2
    assert "is not valid YAML at line" in result.output
    assert not (tmp_path / "s.db").exists()


def test_missing_file_and_non_mapping(tmp_path, cli):
    result = cli("run", tmp_path / "absent.yaml")
    assert result.exit_code == 2 and "does not exist" in result.output
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    result = cli("run", path)
    assert result.exit_code == 2 and "must be a YAML mapping" in result.output


def test_bad_spec_leaves_an_existing_study_untouched(tmp_path, cli):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    good = write_spec(tmp_path, trials=2)
    assert cli("run", good, "--storage", url, "-q").exit_code == 0
    before = (tmp_path / "studies.db").read_bytes()
    bad = write_spec(tmp_path, "bad.yaml", trials=5, search=_search(temperature={"low": 50.0}))
    assert cli("run", bad, "--storage", url).exit_code == 2
    import optuna

    study = optuna.load_study(study_name="tiny", storage=url)
    assert len(study.get_trials()) == 2
    assert (tmp_path / "studies.db").read_bytes() == before
