"""Importances on synthetic studies whose truth is known."""

from __future__ import annotations

import pytest

from tempopt.analysis import EVALUATORS, MIN_TRIALS, compute_importances
from tests.analysis.studies import make_study, only_temperature, temperature_times_kd


@pytest.fixture(scope="module")
def temperature_only():
    return compute_importances(make_study(only_temperature, 60), n_bootstrap=4)


def test_every_evaluator_ranks_the_only_relevant_param_first(temperature_only):
    imp = temperature_only
    assert imp.ok and set(imp.evaluators) == set(EVALUATORS)
    for name, e in imp.evaluators.items():
        assert e.top == "temperature", name
        assert e.importances["temperature"] > 0.6, (name, e.importances)
        assert e.top_share > 0.5  # stays first in most bootstrap resamples
    assert imp.consensus_top == "temperature"


def test_importances_are_normalised_and_have_a_spread(temperature_only):
    for e in temperature_only.evaluators.values():
        assert sum(e.importances.values()) == pytest.approx(1.0)
        assert set(e.stability) == {"temperature", "kd_weight", "lr"}
        assert all(s.std >= 0 for s in e.stability.values())
        assert e.stability["temperature"].mean > e.stability["lr"].mean


def test_rank_agreement_is_high_when_the_truth_is_clear(temperature_only):
    assert len(temperature_only.agreement) == 3
    assert all(g.spearman is not None and g.spearman >= 0.5 for g in temperature_only.agreement)


def test_interaction_makes_temperature_and_kd_weight_matter_and_lr_not():
    imp = compute_importances(make_study(temperature_times_kd, 60), n_bootstrap=0)
    for name, e in imp.evaluators.items():
        assert e.importances["lr"] < 0.15, (name, e.importances)
        assert min(e.importances["temperature"], e.importances["kd_weight"]) > 0.2, name
    assert imp.params[-1] == "lr"


def test_fanova_sees_log_params_in_decades():
    """A step at lr = 1e-3 covers a third of the decades but 1 % of the raw range."""
    study = make_study(lambda p: 0.7 + 0.1 * (p["lr"] < 1e-3) + 0.05 * p["kd_weight"], 60, baseline=None)
    imp = compute_importances(study, n_bootstrap=0)
    assert imp.evaluators["fanova"].importances["lr"] > 0.8
    assert "lr" in imp.log10_params and "temperature" in imp.log10_params


def test_too_few_trials_give_a_reason_and_no_numbers():
    study = make_study(only_temperature, MIN_TRIALS - 1, pruned=4)  # the baseline does not count
    imp = compute_importances(study)
    assert not imp.ok and imp.evaluators == {}
    assert imp.reason.startswith(f"only {MIN_TRIALS - 1} complete sampled trials")
    assert "4 pruned trials are not counted" in imp.reason


def test_constant_values_give_a_reason():
    imp = compute_importances(make_study(lambda p: 0.5, 20, baseline=0.5, noise=0.0))
    assert not imp.ok and "same value" in imp.reason


def test_pruned_trials_are_counted_but_do_not_change_the_importances():
    with_pruned = compute_importances(make_study(only_temperature, 30, pruned=25), n_bootstrap=3)
    without = compute_importances(make_study(only_temperature, 30), n_bootstrap=3)
    assert with_pruned.n_pruned == 25 and with_pruned.n_trials == without.n_trials == 30
    assert any("25 pruned" in n for n in with_pruned.notes)
    for name in EVALUATORS:
        assert with_pruned.evaluators[name].importances == without.evaluators[name].importances
        assert with_pruned.evaluators[name].stability == without.evaluators[name].stability


def test_progress_is_reported_for_every_fit():
    calls = []
    compute_importances(make_study(only_temperature, 20), n_bootstrap=2, progress=lambda *a: calls.append(a))
    assert calls[-1] == ("importances", 9, 9)  # 3 evaluators × (1 + 2 resamples)


def test_baseline_trials_are_left_out_and_counted():
    """Three baselines at kd_weight = 0 with poor values would make kd_weight look decisive."""
    with_baselines = make_study(only_temperature, 30, baseline=[0.2, 0.4, 0.6], legacy=True)  # among its trials
    imp = compute_importances(with_baselines, n_bootstrap=0)
    plain = compute_importances(make_study(only_temperature, 30, baseline=None), n_bootstrap=0)
    assert imp.n_baseline == 3 and imp.n_trials == 30
    assert any(n.startswith("3 baseline trials") for n in imp.notes)
    for name in EVALUATORS:
        assert imp.evaluators[name].importances == plain.evaluators[name].importances
    sibling = compute_importances(make_study(only_temperature, 30, baseline=[0.2, 0.4, 0.6]), n_bootstrap=0)
    assert sibling.n_baseline == 0 and sibling.n_trials == 30  # in their own study: nothing to leave out


def test_optuna_s_own_importances_on_the_search_study_rank_as_the_report_does():
    """What the dashboard shows: Optuna's default evaluator over every trial of the search study.
    With the baselines among them (an older study), their phantom temperature (one value, with
    poor accuracies) and kd_weight 0 would be read as data; in their sibling they are not there."""
    import optuna

    study = make_study(only_temperature, 30, baseline=[0.2, 0.4, 0.6])
    optunas = optuna.importance.get_param_importances(study)
    ours = compute_importances(study, n_bootstrap=0)
    assert next(iter(optunas)) == ours.evaluators["ped_anova"].top == ours.consensus_top == "temperature"
    legacy = make_study(only_temperature, 30, baseline=[0.2, 0.4, 0.6], legacy=True)
    inflated = optuna.importance.get_param_importances(legacy)  # kd_weight 0 and the poor baselines count there
    assert inflated["kd_weight"] > optunas["kd_weight"] + 0.1


def test_conditional_params_are_left_out_of_the_ranking_and_said_so():
    """With search.loss each variant has its own args: a trial holds only its variant's."""
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    study = optuna.create_study(direction="maximize")
    rng = __import__("random").Random(0)
    for i in range(40):
        variant = ["kd", "dkd"][i % 2]
        lr = 10 ** rng.uniform(-3, -1)
        params = {"loss": variant, "lr": lr, "kd_weight": rng.random()}
        dists = {
            "loss": CategoricalDistribution(["kd", "dkd"]),
            "lr": FloatDistribution(1e-3, 1e-1, log=True),
            "kd_weight": FloatDistribution(0.0, 1.0),
        }
        if variant == "dkd":
            params["dkd.beta"], dists["dkd.beta"] = rng.uniform(1, 8), FloatDistribution(1.0, 8.0)
        value = 0.5 + 0.1 * (variant == "dkd") + 0.05 * rng.random() - abs(lr - 0.01)
        study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, value=value))
    imp = compute_importances(study, n_bootstrap=2)
    assert imp.ok and set(imp.params) == {"loss", "lr", "kd_weight"}
    assert any("conditional params (dkd.beta)" in note for note in imp.notes)
