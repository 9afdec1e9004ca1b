"""The study-file loader and the spec model: what they refuse for every field, and what they keep."""

from __future__ import annotations

import copy
import json
import types
import typing
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from tempopt.errors import SpecError
from tempopt.study.spec.model import SPEC_JSON_LIMIT, StudySpec, load_spec, parse_spec
from tempopt.study.spec.reading import MAX_BYTES, StudyLoader

ROOT = Path(__file__).resolve().parents[3]
STUDY_FILES = sorted((ROOT / "studies").glob("*.yaml")) + sorted((ROOT / "examples").glob("*.yaml"))

FULL = {  # every sub-model spelled out, so that every number field has a place to put a boolean
    "name": "full",
    "task": "digits",
    "epochs": 4,
    "trials": 6,
    "search": {
        "temperature": {"low": 1.0, "high": 20.0},
        "kd_weight": {"low": 0.0, "high": 1.0},
        "lr": {"low": 1.0e-4, "high": 1.0e-1},
        "weight_decay": {"low": 0.0, "high": 1.0e-2},
        "batch_size": {"low": 16, "high": 64},
    },
    "baseline_lrs": [1.0e-2],
    "cpu_threads": 1,
    "teacher": {"epochs": 3, "lr": 0.01, "seed": 0},
    "pruner": {"warmup_epochs": 1},
}


def _leaves(annotation: typing.Any) -> typing.Iterator[typing.Any]:
    """The plain types inside an annotation (through unions, lists and Annotated)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        yield from _leaves(typing.get_args(annotation)[0])
    elif origin in (typing.Union, types.UnionType, list):
        for arg in typing.get_args(annotation):
            yield from _leaves(arg)
    else:
        yield annotation


def _number_fields(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> typing.Iterator[tuple[str, ...]]:
    for name, field in model.model_fields.items():
        leaves = list(_leaves(field.annotation))
        if any(leaf in (int, float) for leaf in leaves):
            yield (*prefix, name)
        for leaf in leaves:
            if isinstance(leaf, type) and issubclass(leaf, BaseModel):
                yield from _number_fields(leaf, (*prefix, name))


NUMBER_FIELDS = list(_number_fields(StudySpec))


def test_the_walk_finds_the_number_fields():
    assert {("epochs",), ("seed",), ("teacher", "seed"), ("search", "lr", "step"), ("baseline_lrs",)} <= set(
        NUMBER_FIELDS
    )
    assert ("search", "kd_weight", "choices") in NUMBER_FIELDS and ("name",) not in NUMBER_FIELDS


@pytest.mark.parametrize("path", NUMBER_FIELDS, ids=".".join)
@pytest.mark.parametrize("flag", [True, False])
def test_every_number_field_refuses_a_boolean(path, flag):
    data = copy.deepcopy(FULL)
    node = data
    for key in path[:-1]:
        node = node.setdefault(key, {})
    is_list = path[-1] in ("choices", "baseline_lrs")
    node[path[-1]] = [flag] if is_list else flag
    with pytest.raises(SpecError) as e:
        parse_spec(data)
    where = ".".join(path) + (".0" if is_list else "")
    assert f"key '{where}': expected a number, got {str(flag).lower()}" in str(e.value)


def test_full_spec_is_valid():
    spec = parse_spec(copy.deepcopy(FULL))
    assert spec.search.batch_size is not None and spec.search.batch_size.low == 16


def test_the_repository_study_files_are_found():  # else the test below runs on none
    assert (ROOT / "studies" / "quickstart.yaml") in STUDY_FILES


@pytest.mark.parametrize("path", STUDY_FILES, ids=lambda p: p.name)
def test_repository_study_files_load_as_safe_load_reads_them(path):
    data = yaml.safe_load(path.read_text())
    assert yaml.load(path.read_text(), Loader=StudyLoader) == data
    assert load_spec(path).to_dict()["search"] == parse_spec(data).to_dict()["search"]


def test_loader_keeps_safe_load_semantics():
    text = "a: 1.0e-4\nb: 1e-4\nc: [yes, off, null, 0x10]\nd: {<<: {x: 1}, y: 2}\ne: '&not-an-anchor'\n"
    assert yaml.load(text, Loader=StudyLoader) == yaml.safe_load(text)


@pytest.mark.parametrize(
    "name", ["tiny", "quickstart-digits", "mnist1d-transfer", "it", "kd", "blobs", "budget", "placebo",
             "digits-same-labels", "through-proxy", "grpc-e2e", "v1.2_final", "n" * 100]
)  # fmt: skip
def test_names_in_use_stay_valid(name):
    assert parse_spec({**copy.deepcopy(FULL), "name": name}).name == name


@pytest.mark.parametrize("name", ["..", ".hidden", "-flag", "a/b", "a\\b", "x\n", "ü", "n" * 101, ""])
def test_unsafe_names_are_refused(name):
    with pytest.raises(SpecError, match="may only hold letters, digits"):
        parse_spec({**copy.deepcopy(FULL), "name": name})


@pytest.mark.parametrize(
    "dimension, value",
    [
        ("batch_size", {"choices": [16, 32, 64]}),
        ("batch_size", {"low": 16, "high": 64, "step": 16}),
        ("kd_weight", {"low": 0.0, "high": 1.0, "step": 1.0}),  # step == high - low: the two ends
        ("kd_weight", {"choices": [0, 0.5, 1]}),
        ("weight_decay", {"low": 0.0, "high": 0.0}),
        ("temperature", {"choices": [1, 2.5, 8]}),
    ],
)
def test_dimensions_that_fit_what_they_feed_pass(dimension, value):
    data = copy.deepcopy(FULL)
    data["search"][dimension] = value
    assert getattr(parse_spec(data).search, dimension).model_dump(exclude_defaults=True) == value


def test_the_json_size_limit_is_exact():
    def spec_with(padding: int) -> dict:
        return {**copy.deepcopy(FULL), "task_args": {"pad": "x" * padding}}

    base = len(json.dumps(StudySpec.model_validate(spec_with(0)).to_dict()))
    StudySpec.model_validate(spec_with(SPEC_JSON_LIMIT - base))  # exactly at the limit: kept
    with pytest.raises(SpecError, match=r"takes 60,001 bytes as JSON.*shrink key 'task_args'"):
        parse_spec(spec_with(SPEC_JSON_LIMIT - base + 1))


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    path = tmp_path / "huge.yaml"
    with path.open("wb") as f:
        f.truncate(50 * MAX_BYTES)  # sparse: no disk used
    monkeypatch.setattr(Path, "open", lambda *a, **k: pytest.fail("the file was opened"))
    with pytest.raises(SpecError, match="is over 1,000,000 bytes"):
        load_spec(path)


def test_a_file_of_exactly_the_limit_is_read(tmp_path):
    path = tmp_path / "study.yaml"
    text = yaml.safe_dump({**copy.deepcopy(FULL)})
    path.write_text(text + "#" * (MAX_BYTES - len(text)))
    assert path.stat().st_size == MAX_BYTES
    assert load_spec(path).name == "full"
