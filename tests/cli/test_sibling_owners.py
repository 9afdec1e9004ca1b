"""Siblings are ours or refused: a ``NAME:verify-N`` or ``NAME:baseline`` study records the id of
the search it was made for; one made for an older study of that name is replaced, one tempopt did
not make is never used or deleted."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from tempopt.errors import SpecError
from tempopt.study.optuna_internals import study_id_of
from tempopt.study.stored import SEARCH_ID_ATTR
from tempopt.study.verification.worker import VERIFY_ATTR, open_verification
from tests.cli.conftest import write_spec
from tests.cli.test_verification import _spec, _trial, _url

SMALL = {"trials": 2, "verify": {"top_k": 1, "seeds": 2}}


def test_a_study_deleted_and_run_again_under_its_name_verifies_with_its_own_replicates(tmp_path, cli):
    first = write_spec(tmp_path, "first.yaml", **SMALL)
    assert cli("run", first, "--storage", _url(tmp_path), "-q").exit_code == 0
    old = optuna.load_study(study_name="tiny:verify-2", storage=_url(tmp_path))
    old_seeds = {t.user_attrs["student_seed"] for t in old.trials}
    optuna.delete_study(study_name="tiny", storage=_url(tmp_path))  # what `optuna delete-study` does

    second = write_spec(tmp_path, "second.yaml", **SMALL, seed=7)  # another study of the same name
    result = cli("run", second, "--storage", _url(tmp_path), "-q")
    assert result.exit_code == 0, result.output
    assert "verification: 4/4 replicates complete (tiny:verify-2); this worker ran 4." in result.output
    assert "verification has not run yet" not in result.output
    search = optuna.load_study(study_name="tiny", storage=_url(tmp_path))
    verify = optuna.load_study(study_name="tiny:verify-2", storage=_url(tmp_path))
    assert search.user_attrs[VERIFY_ATTR] == "tiny:verify-2"
    assert verify.user_attrs[SEARCH_ID_ATTR] == study_id_of(search)
    assert {t.user_attrs["student_seed"] for t in verify.trials} == {8, 9} != old_seeds
    assert all(t.state == TrialState.COMPLETE for t in verify.trials)


def _finished_search(tmp_path):
    storage = optuna.storages.RDBStorage(_url(tmp_path))
    search = optuna.create_study(study_name="tiny", storage=storage, direction="maximize")
    for t in (_trial(0.8, 0.0, baseline=True), _trial(0.9, 0.5)):
        search.add_trial(t)
    return storage, search


def test_a_study_of_the_verification_s_name_that_tempopt_did_not_make_is_refused_and_kept(tmp_path):
    storage, search = _finished_search(tmp_path)
    mine = optuna.create_study(study_name="tiny:verify-2", storage=storage)
    mine.set_user_attr("owner", "me")
    mine.add_trial(optuna.trial.create_trial(value=1.0))
    with pytest.raises(SpecError) as info:
        open_verification(search, _spec(tmp_path, verify={"top_k": 1, "seeds": 2}), wait=0.5)
    assert str(info.value) == (
        "study 'tiny:verify-2' already exists and is not the verification tempopt made for study 'tiny'; "
        "rename it, or give the study another name."
    )
    kept = optuna.load_study(study_name="tiny:verify-2", storage=storage)
    assert kept.user_attrs == {"owner": "me"} and len(kept.trials) == 1
    assert VERIFY_ATTR not in search.user_attrs


def test_a_verification_made_for_an_older_study_of_the_name_is_replaced(tmp_path):
    storage, search = _finished_search(tmp_path)
    older = optuna.create_study(study_name="tiny:verify-2", storage=storage, direction="maximize")
    older.set_user_attr(SEARCH_ID_ATTR, study_id_of(search) + 100)
    older.set_user_attr("plan", ["distilled-1-seed1"])
    older.add_trial(optuna.trial.create_trial(value=1.0, user_attrs={"replicate": "distilled-1-seed1"}))
    study = open_verification(search, _spec(tmp_path, verify={"top_k": 1, "seeds": 2}), wait=0.5)
    assert study.user_attrs[SEARCH_ID_ATTR] == study_id_of(search)
    assert len(study.get_trials(states=(TrialState.WAITING,))) == 4 and len(study.trials) == 4


def test_a_baseline_study_that_tempopt_did_not_make_is_refused_and_kept(tmp_path, cli):
    mine = optuna.create_study(study_name="tiny:baseline", storage=_url(tmp_path))
    mine.set_user_attr("owner", "me")
    result = cli("run", write_spec(tmp_path, **SMALL), "--storage", _url(tmp_path), "-q")
    assert result.exit_code == 2, result.output
    assert "study 'tiny:baseline' already exists and is not the baseline study tempopt made for 'tiny'" in " ".join(
        result.output.split()
    )
    assert optuna.get_all_study_names(_url(tmp_path)) == ["tiny:baseline"]
    assert optuna.load_study(study_name="tiny:baseline", storage=_url(tmp_path)).user_attrs == {"owner": "me"}
