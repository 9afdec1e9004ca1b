"""Verification: planned once from the finished search, run as queued work, kept out of the search."""

from __future__ import annotations

import json

import optuna
import pytest
import yaml
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from tempopt.study.spec.model import parse_spec
from tempopt.study.stored import decode_correct, encode_correct
from tempopt.study.verification.plan import plan_replicates, student_seeds
from tempopt.study.verification.worker import VERIFY_ATTR, open_verification
from tests.cli.conftest import tiny_spec, write_spec

optuna.logging.set_verbosity(optuna.logging.WARNING)
DISTS = {
    "temperature": FloatDistribution(1.0, 20.0, log=True),
    "kd_weight": FloatDistribution(0.0, 1.0),
    "lr": FloatDistribution(1e-4, 1e-1, log=True),
}


def _url(tmp_path):
    return f"sqlite:///{tmp_path / 'studies.db'}"


def _spec(tmp_path, **overrides):
    return parse_spec(tiny_spec(tmp_path, **overrides))


def _trial(value, kd_weight, lr=0.01, state=TrialState.COMPLETE, baseline=False):
    return optuna.trial.create_trial(
        state=state,
        value=value if state == TrialState.COMPLETE else None,
        params={"temperature": 4.0, "kd_weight": kd_weight, "lr": lr},
        distributions=DISTS,
        user_attrs={"baseline": True} if baseline else {},
    )


def test_the_plan_is_the_top_k_distinct_distilled_configs_and_the_best_baseline(tmp_path):
    spec = _spec(tmp_path, seed=7, verify={"top_k": 2, "seeds": 3})
    trials = [
        _trial(0.80, 0.0, 0.01, baseline=True),
        _trial(0.83, 0.0, 0.03, baseline=True),
        _trial(0.90, 0.5),
        _trial(0.90, 0.5),  # the same config twice: verified once
        _trial(0.95, 0.7, state=TrialState.PRUNED),
        _trial(0.88, 0.2),
        _trial(0.86, 0.9),
        _trial(0.99, 0.0, 0.05),
    ]  # kd_weight 0 but not a baseline trial: not distilled
    for i, t in enumerate(trials):
        t.number = i
    plan = plan_replicates(trials, spec)
    assert student_seeds(spec) == [8, 9, 10]  # never the search's own seed
    assert [(r.role, r.rank, r.source_trial) for r in plan[:3]] == [
        ("distilled", 1, 2),
        ("distilled", 2, 5),
        ("baseline", 0, 1),
    ]
    assert [r.student_seed for r in plan] == [8, 8, 8, 9, 9, 9, 10, 10, 10]  # seed by seed: they can batch
    assert len({r.key for r in plan}) == 9


def test_the_plan_takes_the_best_baseline_of_the_sibling(tmp_path):
    spec = _spec(tmp_path, verify={"top_k": 1, "seeds": 1})
    search = [_trial(0.90, 0.5), _trial(0.92, 0.7)]
    lr = optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)
    baselines = [
        optuna.trial.create_trial(value=v, params={"lr": x}, distributions={"lr": lr}, user_attrs={"baseline": True})
        for v, x in ((0.80, 0.01), (0.85, 0.03))
    ]
    for i, t in enumerate(search + baselines):
        t.number = i % 2
    plan = plan_replicates(search, spec, baselines)
    assert [(r.role, r.source_trial, r.params) for r in plan] == [
        ("distilled", 1, search[1].params),
        ("baseline", 1, {"lr": 0.03}),  # the student alone's params, nothing it did not use
    ]


def test_with_searched_variants_every_variant_s_best_config_is_verified_too(tmp_path):
    search = {**tiny_spec(tmp_path)["search"], "loss": {"choices": ["kd", "dkd", "ttm"]}}
    spec = _spec(tmp_path, verify={"top_k": 1, "seeds": 1}, search=search)
    dists = {**DISTS, "loss": optuna.distributions.CategoricalDistribution(["kd", "dkd", "ttm"])}
    trials = []
    for i, (value, loss) in enumerate([(0.9, "kd"), (0.95, "kd"), (0.8, "dkd"), (0.85, "dkd"), (0.7, "kd")]):
        trials.append(
            optuna.trial.create_trial(
                value=value,
                params={"loss": loss, "temperature": 4.0, "kd_weight": 0.5, "lr": 0.01 + i / 100},
                distributions=dists,
            )
        )
        trials[-1].number = i
    plan = plan_replicates(trials, spec)  # the top 1 (a kd trial), then dkd's best; ttm never ran
    assert [(r.rank, r.source_trial, r.params["loss"]) for r in plan] == [(1, 1, "kd"), (2, 3, "dkd")]


def test_a_run_verifies_in_a_sibling_study_that_never_counts_toward_the_trials(tmp_path, cli):
    spec = write_spec(tmp_path, trials=5, verify={"top_k": 2, "seeds": 2})
    result = cli("run", spec, "--storage", _url(tmp_path), "-q")
    assert result.exit_code == 0, result.output
    assert "verification: 6/6 replicates complete (tiny:verify-5)" in result.output
    search = optuna.load_study(study_name="tiny", storage=_url(tmp_path))
    assert search.user_attrs[VERIFY_ATTR] == "tiny:verify-5"
    assert not any("replicate" in t.user_attrs for t in search.trials)
    verify = optuna.load_study(study_name="tiny:verify-5", storage=_url(tmp_path))
    assert all(t.state == TrialState.COMPLETE for t in verify.trials) and len(verify.trials) == 6
    baselines = optuna.load_study(study_name="tiny:baseline", storage=_url(tmp_path))
    assert len(search.trials) + len(baselines.trials) == 5
    for t in verify.trials:
        source = (baselines if t.user_attrs["role"] == "baseline" else search).trials[t.user_attrs["source_trial"]]
        assert t.params == source.params and t.user_attrs["student_seed"] in (1, 2)
        correct = decode_correct(t.user_attrs["test_correct"], t.user_attrs["test_examples"])
        assert t.user_attrs["test_examples"] == 539 and correct.mean() == pytest.approx(t.user_attrs["test_accuracy"])
        assert t.user_attrs["test_split"] == "test" and sorted(t.intermediate_values) == [1, 2, 3, 4]
    assert "verdict: " in result.output

    again = cli("run", spec, "--storage", _url(tmp_path), "--trials", "7", "-q")  # more trials: verified anew
    assert again.exit_code == 0, again.output
    assert optuna.load_study(study_name="tiny", storage=_url(tmp_path)).user_attrs[VERIFY_ATTR] == "tiny:verify-7"


def test_verification_off_and_a_study_too_small_for_both_sides_still_run_export_and_report(tmp_path, cli):
    for name, overrides, missing in (
        ("off", {"verify": {"seeds": 0}}, "verification is off (verify.seeds: 0)"),
        ("small", {"trials": 1}, "no baseline trial"),  # one trial: too few to share with a baseline
        ("nobase", {"trials": 2, "baseline": False}, "no baseline trial"),
        (
            "nokd",
            {"trials": 2, "search": {**tiny_spec(tmp_path)["search"], "kd_weight": {"choices": [0.0]}}},
            "no distilled trial",
        ),
    ):
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump({**tiny_spec(tmp_path, **overrides), "name": name}))
        spec = path
        result = cli("run", spec, "--storage", _url(tmp_path), "-q")
        assert result.exit_code == 0, result.output
        assert "verdict: no evidence" in result.output and missing in " ".join(result.output.split())
        out = tmp_path / name
        assert cli("export", "--study", name, "--storage", _url(tmp_path), "--out", out / "best.yaml").exit_code == 0
        assert yaml.safe_load((out / "best.yaml").read_text())["verdict"]["verdict"] == "no evidence"
        report = cli(
            "report", "--study", name, "--storage", _url(tmp_path), "--out", out / "report", "--bootstrap", "0"
        )
        assert report.exit_code == 0, report.output  # its own folder: report writes nowhere it did not write before
        verdict = json.loads((out / "report" / "verdict.json").read_text())
        assert verdict["verdict"] == "no evidence" and verdict["gain"] is None and missing in verdict["summary"]
        if name == "off":
            assert not [s for s in optuna.get_all_study_names(_url(tmp_path)) if s.startswith("off:verify")]


def test_a_verification_study_left_without_a_plan_is_planned_again(tmp_path):
    spec = _spec(tmp_path, verify={"top_k": 1, "seeds": 2})
    storage = optuna.storages.RDBStorage(_url(tmp_path))
    search = optuna.create_study(study_name="tiny", storage=storage, direction="maximize")
    for t in (_trial(0.8, 0.0, baseline=True), _trial(0.9, 0.5)):
        search.add_trial(t)
    optuna.create_study(study_name="tiny:verify-2", storage=storage)  # its planner died right here
    study = open_verification(search, spec, wait=0.5)
    assert study.user_attrs["plan"] == [
        "distilled-1-seed1",
        "baseline-0-seed1",
        "distilled-1-seed2",
        "baseline-0-seed2",
    ]
    assert len(study.get_trials(states=(TrialState.WAITING,))) == 4
    assert open_verification(search, spec).study_name == study.study_name  # planned once: joined
    assert len(study.get_trials()) == 4


def test_per_example_correctness_round_trips():
    import numpy as np

    bits = np.random.default_rng(0).random(1001) < 0.9
    assert (decode_correct(encode_correct(bits), 1001) == bits).all()
    assert len(encode_correct(np.ones(10_000, dtype=bool))) < 1700


def test_batched_replicates_are_the_replicates_tempopt_train_reproduces(tmp_path, cli):
    spec = write_spec(tmp_path, trials=5, batch_trials=4, verify={"top_k": 2, "seeds": 2})
    assert cli("run", spec, "--storage", _url(tmp_path), "-q").exit_code == 0
    verify = optuna.load_study(study_name="tiny:verify-5", storage=_url(tmp_path))
    assert sorted(tuple(t.user_attrs["batch"]) for t in verify.trials) == [(0, 1, 2)] * 3 + [(3, 4, 5)] * 3
    best = tmp_path / "best.yaml"
    assert cli("export", "--study", "tiny", "--storage", _url(tmp_path), "--out", best).exit_code == 0
    verdict = yaml.safe_load(best.read_text())["verdict"]
    for i, seed in enumerate(verdict["seeds"]):
        out = tmp_path / f"seed{seed}"
        assert cli("train", best, "--out", out, "--seed", seed).exit_code == 0
        metrics = json.loads((out / "metrics.json").read_text())
        assert abs(metrics["val_accuracy"] - verdict["distilled"]["val"][i]) <= 1 / 359  # one example
        assert abs(metrics["test_accuracy"] - verdict["distilled"]["test"][i]) <= 1 / 539
