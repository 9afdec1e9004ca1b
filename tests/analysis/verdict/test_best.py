"""The one best config: the verdict's distilled config once verified, else the search's best,
with every figure labelled; the report and the dashboard note show that one."""

from __future__ import annotations

import pytest

from tempopt.analysis import BestConfig, analyse_study, best_config, compute_verdict, render_markdown, spec_note
from tempopt.analysis.report._html import render_html
from tempopt.analysis.verdict._best import seed_range
from tests.analysis.studies import add_verification, make_study, temperature_times_kd


def _ranked_distilled(study):
    done = [t for t in study.trials if t.value is not None and not t.user_attrs.get("baseline")]
    return sorted(done, key=lambda t: -t.value)


def test_before_verification_it_is_the_search_s_best_marked_unverified():
    study = make_study(temperature_times_kd, 12, baseline=[0.99], legacy=True)  # a baseline is the best trial
    best = best_config(study)
    top = max((t for t in study.trials if t.value is not None), key=lambda t: t.value)
    assert top.user_attrs["baseline"] is True
    assert (best.trial, best.params, best.verified) == (top.number, top.params, False)
    assert [(f.label, f.value) for f in best.figures] == [(f"search, seed {top.number}, val", top.value)]
    assert best.headline is best.figures[0] and best.status == "unverified"
    assert best.describe() == f"trial #{top.number}, unverified: {top.value:.4f} (search, seed {top.number}, val)"


def test_once_verified_it_is_the_verdict_s_distilled_config_even_when_the_search_preferred_another():
    study = make_study(temperature_times_kd, 12)
    add_verification(study, [0.90, 0.95], 0.85)  # the search's second-best distilled config verifies best
    first, second = _ranked_distilled(study)[:2]
    verdict = compute_verdict(study)
    best = best_config(study, verdict)
    assert verdict.distilled.trial == second.number == best.trial != first.number
    assert best.verified and best.params == second.params
    val, test = sum(verdict.distilled.val) / 3, sum(verdict.distilled.test) / 3
    assert [(f.label, f.value) for f in best.figures] == [
        (f"search, seed {second.number}, val", second.value),
        ("mean over seeds 1–3, val", pytest.approx(val)),
        ("mean over seeds 1–3, test", pytest.approx(test)),
    ]
    assert best.headline is best.figures[1]
    assert BestConfig.from_json(best.to_json()) == best


def test_a_task_without_a_test_split_has_no_test_figure():
    study = make_study(temperature_times_kd, 12)
    add_verification(study, 0.95, 0.85, split="val", seeds=(4, 9))
    best = best_config(study)
    assert [f.label for f in best.figures][1:] == ["mean over seeds 4, 9, val"]


def test_no_completed_trial_no_best():
    study = make_study(temperature_times_kd, 0, baseline=None)
    assert best_config(study) is None
    assert "No trial has completed yet." in render_markdown(analyse_study(study, n_bootstrap=0))


@pytest.mark.parametrize(
    ("seeds", "text"), [([1], "seed 1"), ([1, 2], "seeds 1, 2"), ([1, 2, 3], "seeds 1–3"), ([1, 3, 4], "seeds 1, 3, 4")]
)
def test_seed_ranges(seeds, text):
    assert seed_range(seeds) == text


def test_the_report_and_the_note_name_the_one_best_before_and_after_verification():
    study = make_study(temperature_times_kd, 12)
    search_best = _ranked_distilled(study)[0]
    before = analyse_study(study, n_bootstrap=0)
    unverified = f"Trial #{search_best.number}, unverified: {search_best.value:.4f} (search, seed"
    assert unverified in render_markdown(before) and unverified in render_html(before, [])
    assert f"**Best configuration:** trial #{search_best.number}, unverified" in spec_note(study)

    add_verification(study, [0.90, 0.95], 0.85)
    chosen = _ranked_distilled(study)[1]
    after = analyse_study(study, n_bootstrap=0)
    assert after.best.trial == after.verdict.distilled.trial == chosen.number
    markdown, page = render_markdown(after), render_html(after, [])
    verified = f"Trial #{chosen.number}, verified: {chosen.value:.4f} (search, seed {chosen.number}, val) · "
    for text in (markdown, page):
        assert verified in text and "(mean over seeds 1–3, val)" in text and "(mean over seeds 1–3, test)" in text
        assert f"Trial #{search_best.number}," not in text
    assert f"**Best configuration:** trial #{chosen.number}, verified" in spec_note(study)
