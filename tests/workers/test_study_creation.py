"""Study creation is all or nothing, and study names compare exactly, on every backend."""

from __future__ import annotations

import optuna
import pytest

from tempopt.errors import SpecError
from tempopt.study.spec.model import parse_spec
from tempopt.study.storage.opening import open_storage
from tempopt.study.stored import baseline_trials
from tempopt.study.workers import creation
from tempopt.study.workers.creation import create_or_resume
from tests.workers.harness import BACKENDS, fresh_database, study_dict

pytestmark = pytest.mark.integration
optuna.logging.set_verbosity(optuna.logging.WARNING)


def _spec(tmp_path, name="it", **overrides):
    return parse_spec(study_dict(name, tmp_path / "cache", trials=4, **overrides))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_failure_while_creating_leaves_no_study_and_an_orphan_is_recreated(backend, tmp_path, monkeypatch):
    with fresh_database(backend, tmp_path) as url:
        storage = open_storage(url)
        spec = _spec(tmp_path)

        def broken(spec):
            raise RuntimeError("the database went away mid-creation")

        monkeypatch.setattr(creation, "baseline_slots", broken)
        with pytest.raises(RuntimeError):
            create_or_resume(spec, storage)
        assert optuna.get_all_study_names(storage) == []  # nothing half-made is left
        monkeypatch.undo()

        optuna.create_study(study_name="it", storage=storage)  # a worker killed right after the insert
        monkeypatch.setattr(creation, "SPEC_WAIT", 0.5)
        study = create_or_resume(spec, storage)
        assert study.user_attrs["spec"]["name"] == "it"
        assert (
            len(baseline_trials(study)) == 1
        )  # its queued baseline trial (baseline_lrs), in its sibling: made anew, once
        assert sorted(optuna.get_all_study_names(storage)) == ["it", "it:baseline"]

        foreign = optuna.create_study(study_name="foreign", storage=storage)
        foreign.set_user_attr("owner", "someone else")  # not empty: never deleted
        with pytest.raises(SpecError, match="was not made by tempopt"):
            create_or_resume(_spec(tmp_path, name="foreign"), storage)
        assert "foreign" in optuna.get_all_study_names(storage)
        storage.engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_names_that_differ_by_case_are_two_studies_or_a_clear_refusal(backend, tmp_path):
    with fresh_database(backend, tmp_path) as url:
        storage = open_storage(url)
        create_or_resume(_spec(tmp_path, name="CaseTest"), storage)
        if backend == "mariadb":  # its default collation ignores case: refused, nothing written
            with pytest.raises(SpecError, match="clashes with the existing study 'CaseTest'"):
                create_or_resume(_spec(tmp_path, name="casetest"), storage)
            assert sorted(optuna.get_all_study_names(storage)) == ["CaseTest", "CaseTest:baseline"]
        else:
            create_or_resume(_spec(tmp_path, name="casetest"), storage)
            names = ["CaseTest", "CaseTest:baseline", "casetest", "casetest:baseline"]
            assert sorted(optuna.get_all_study_names(storage)) == names
        study = create_or_resume(_spec(tmp_path, name="CaseTest"), storage)  # resumes the right one
        assert study.study_name == "CaseTest" and study.user_attrs["spec"]["name"] == "CaseTest"
        storage.engine.dispose()
