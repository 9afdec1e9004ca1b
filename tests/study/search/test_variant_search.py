"""``search.loss``: variants as a searched, conditional dimension, checked before anything runs."""

from __future__ import annotations

import optuna
import pytest

from tempopt.errors import SpecError
from tempopt.export import check_params
from tempopt.study.search.space import distributions, make_sampler, suggest
from tempopt.study.spec.model import parse_spec
from tempopt.study.trial.objective import job_config

VARIANTS = ["kd", "schedule", "learned", "standardized", "dkd", "ttm"]


def _spec(**overrides) -> dict:
    data = {
        "name": "variants",
        "task": "digits",
        "epochs": 3,
        "trials": 10,
        "search": {
            "temperature": {"low": 1.0, "high": 10.0, "log": True},
            "kd_weight": {"low": 0.0, "high": 1.0},
            "lr": {"low": 1e-3, "high": 1e-1, "log": True},
            "loss": {
                "choices": VARIANTS,
                "dkd": {"beta": {"low": 1.0, "high": 8.0}, "alpha": 0.5},
                "ttm": {"weighted": {"choices": ["no", "yes"]}},
            },
        },
    }
    data.update(overrides)
    return data


def _search(**loss) -> dict:
    return {**_spec()["search"], "loss": loss}


def test_each_trial_has_its_variant_s_params_only():
    spec = parse_spec(_spec())
    study = optuna.create_study(direction="maximize", sampler=make_sampler(spec, 0))
    seen = set()
    for _ in range(40):
        trial = study.ask()
        params = suggest(trial, spec)
        variant = params["loss"]
        seen.add(variant)
        own = {k for k in params if "." in k}
        assert own == {"dkd": {"dkd.beta"}, "ttm": {"ttm.weighted"}}.get(variant, set())
        assert ("temperature" in params) == (variant in ("kd", "standardized", "dkd"))
        config = job_config(spec, params)
        assert config.loss == variant
        if variant == "dkd":
            assert config.loss_args == {"alpha": 0.5, "beta": params["dkd.beta"]}
            assert config.temperature == params["temperature"]
        check_params(params, spec, "export")  # what an export of this trial holds passes its checks
        study.tell(trial, float(len(own)))
    assert seen == set(VARIANTS)
    assert set(distributions(spec)) == {"temperature", "kd_weight", "lr", "loss", "dkd.beta", "ttm.weighted"}


def test_choices_alone_work_and_without_a_temperature_variants_take_their_default_t():
    data = _spec()
    data["search"] = {k: v for k, v in data["search"].items() if k != "temperature"}
    data["search"]["loss"] = {"choices": ["standardized", "dkd", "kd"]}
    spec = parse_spec(data)
    assert job_config(spec, {"loss": "standardized", "kd_weight": 0.5, "lr": 0.01}).temperature == 2.0
    assert job_config(spec, {"loss": "dkd", "kd_weight": 0.5, "lr": 0.01}).temperature == 4.0
    assert job_config(spec, {"loss": "dkd", "kd_weight": 0.5, "lr": 0.01}).loss_args == {}


def test_a_fixed_variant_takes_its_loss_args():
    spec = parse_spec(
        _spec(
            search={k: v for k, v in _spec()["search"].items() if k != "loss"},
            loss="schedule",
            loss_args={"t_start": 6.0, "shape": "cosine"},
        )
    )
    config = job_config(spec, {"temperature": 3.0, "kd_weight": 0.5, "lr": 0.01})
    assert (config.loss, config.loss_args) == ("schedule", {"t_start": 6.0, "shape": "cosine"})


def test_the_spec_round_trips_through_its_stored_form():
    spec = parse_spec(_spec())
    assert parse_spec(spec.to_dict() | {"name": spec.name}) == spec
    assert (
        "loss"
        not in parse_spec(_spec(search={k: v for k, v in _spec()["search"].items() if k != "loss"})).to_dict()["search"]
    )


@pytest.mark.parametrize(
    "change, words",
    [
        ({"search": _search(choices=["kd", "nope"])}, "'nope'"),
        (
            {"search": _search(choices=["kd", "dkd"], dkd={"gamma": 2.0})},
            "search.loss.dkd.gamma.*no arg 'gamma'.*alpha, beta, warmup",
        ),
        (
            {"search": _search(choices=["ttm"], ttm={"gamma": {"low": 0.5, "high": 3.0}})},
            "search.loss.ttm.gamma.*gamma=3",
        ),
        (
            {"search": _search(choices=["ttm"], ttm={"weighted": {"low": 0.0, "high": 1.0}})},
            "weighted=0.0 is not one of no, yes",
        ),
        ({"search": _search(choices=["kd"], dkd={"beta": 2.0})}, "'dkd', which is not among choices"),
        ({"search": _search(choices=["kd", "kd"])}, "twice"),
        ({"loss": "dkd"}, "either loss/loss_args"),
        (
            {
                "search": {k: v for k, v in _spec()["search"].items() if k != "loss"},
                "loss": "ttm",
                "loss_args": {"gamma": 0.0},
            },
            "key 'loss'.*gamma=0",
        ),
        (
            {
                "search": {k: v for k, v in _spec()["search"].items() if k != "loss"},
                "loss": "learned",
                "loss_args": {"t_init": 30.0},
            },
            "t_init=30.*strictly between",
        ),
        (
            {
                "search": {k: v for k, v in _spec()["search"].items() if k != "loss"},
                "loss": "kd",
                "loss_args": {"beta": 1.0},
            },
            "loss 'kd' has no arg 'beta'",
        ),
        (
            {"loss": "no_such_module:Loss", "search": {k: v for k, v in _spec()["search"].items() if k != "loss"}},
            "'no_such_module' cannot be imported",
        ),
    ],
)
def test_bad_variants_and_args_are_one_sentence_naming_the_key(change, words):
    with pytest.raises(SpecError, match=words) as e:
        parse_spec(_spec(**change), source="s.yaml")
    assert str(e.value).startswith("s.yaml: ") and str(e.value).count("\n") == 0
