"""Accuracy against size: a multi-objective study, its Pareto front, exported and retrained."""

from __future__ import annotations

import optuna
import pytest
import yaml
from optuna.distributions import FloatDistribution, IntDistribution

from tempopt.errors import SpecError
from tempopt.study.search.space import distributions
from tempopt.study.spec.model import parse_spec

from .conftest import tiny_spec, write_spec

SEARCH_WIDTH = {"student_hidden": {"low": 2, "high": 32, "log": True}}


def _url(tmp_path):
    return f"sqlite:///{tmp_path / 'studies.db'}"


def _study(tmp_path):
    return optuna.load_study(study_name="tiny", storage=_url(tmp_path))


def test_a_front_of_at_least_three_is_found_exported_and_each_member_retrains(tmp_path, cli):
    search = {**tiny_spec(tmp_path)["search"], "task_args": SEARCH_WIDTH}
    spec = write_spec(
        tmp_path,
        trials=16,
        epochs=6,
        objectives=["accuracy", "params"],
        search=search,
        pruner={"name": "median"},
        verify={"top_k": 2, "seeds": 1},
    )
    result = cli("run", spec, "--storage", _url(tmp_path))
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert text.count("pruning is off: Optuna cannot prune multi-objective studies") == 1
    assert "Pareto front:" in text
    study = _study(tmp_path)
    assert len(study.directions) == 2 and study.metric_names == ["val_accuracy", "params"]  # the dashboard's names
    for t in study.trials:
        assert not t.intermediate_values and len(t.user_attrs["val_per_epoch"]) == 6  # never pruned
        assert t.values[1] == t.user_attrs["params_count"]
        assert t.params["student_hidden"] == int(t.params["student_hidden"])
    # the teacher is trained once: the searched width is the student's alone
    assert len({p.name for p in (tmp_path / "cache").iterdir() if p.suffix == ".pt"}) == 1

    folder = tmp_path / "front"
    result = cli("export", "--study", "tiny", "--storage", _url(tmp_path), "--pareto", "--out", folder)
    assert result.exit_code == 0, result.output
    files = sorted(folder.glob("trial-*.yaml"))
    assert len(files) >= 3
    verified = 0
    for path in files:
        data = yaml.safe_load(path.read_text())
        assert set(data["values"]) == {"accuracy", "params"}
        source = study.trials[data["trial"]]
        assert data["values"]["accuracy"] == source.values[0] and data["params"] == source.params
        if data["verdict"]["gain"] is not None:  # a verified member: against the alone student of its size
            verified += 1
            assert data["verdict"]["student"] == {"student_hidden": source.params["student_hidden"]}
            baseline = data["verdict"]["baseline"]["params"]
            assert baseline["student_hidden"] == source.params["student_hidden"] and "kd_weight" not in baseline
    assert verified == 2
    path = files[0]
    result = cli("train", path, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert "difference +0.0000" in result.output  # the member's own student width, not task_args'

    report = tmp_path / "report"
    assert cli("report", "--study", "tiny", "--storage", _url(tmp_path), "--out", report).exit_code == 0
    md = (report / "report.md").read_text()
    assert "## Pareto front" in md and "student_hidden=" in md
    assert "Pareto front" in (report / "report.html").read_text()


def test_latency_is_measured_on_the_cpu_per_example(tmp_path, cli):
    search = {**tiny_spec(tmp_path)["search"], "task_args": {"student_hidden": {"choices": [4, 64]}}}
    spec = write_spec(tmp_path, trials=5, objectives=["accuracy", "latency"], search=search, verify={"seeds": 0})
    assert cli("run", spec, "--storage", _url(tmp_path), "-q").exit_code == 0
    assert _study(tmp_path).metric_names == ["val_accuracy", "latency"]
    for t in _study(tmp_path).trials:
        assert t.values[1] == t.user_attrs["latency_ms"] > 0 and t.user_attrs["params_count"] > 0


def test_searched_task_args_are_integers_where_the_task_takes_integers(tmp_path):
    spec = parse_spec(
        tiny_spec(
            tmp_path,
            search={
                **tiny_spec(tmp_path)["search"],
                "task_args": {
                    "student_hidden": {"low": 4, "high": 64, "log": True},
                    "val_fraction": {"low": 0.1, "high": 0.3},
                },
            },
        )
    )
    space = distributions(spec)
    assert space["student_hidden"] == IntDistribution(4, 64, log=True)
    assert space["val_fraction"] == FloatDistribution(0.1, 0.3)


@pytest.mark.parametrize(
    "change, words",
    [
        ({"objectives": ["params"]}, "must be [accuracy], or accuracy and one cost"),
        ({"objectives": ["accuracy", "params", "latency"]}, "must be [accuracy]"),
        ({"objectives": ["accuracy", "size"]}, "objectives"),
        ({"task_args_search": {"widht": {"low": 2, "high": 8}}}, "search.task_args.widht"),
        ({"task_args_search": {"lr": {"low": 2, "high": 8}}}, "clash with the trial param 'lr'"),
        (
            {"task_args_search": {"student_hidden": {"low": 2.5, "high": 8}}},
            "s.yaml: key 'search.task_args.student_hidden': an integer task argument needs whole low, high and step",
        ),
    ],
)
def test_bad_objectives_and_searched_task_args_are_one_sentence(tmp_path, change, words):
    data = tiny_spec(tmp_path)
    if "task_args_search" in change:
        data["search"] = {**data["search"], "task_args": change.pop("task_args_search")}
    data.update(change)
    with pytest.raises(SpecError) as e:
        parse_spec(data, source="s.yaml")
    assert words in str(e.value) and str(e.value).count("\n") == 0
