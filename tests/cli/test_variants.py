"""Loss variants from the command line: searched, exported, retrained; a user's own variant."""

from __future__ import annotations

import json
import sys
import textwrap

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from tempopt.study.stored import all_trials

from .conftest import tiny_spec, write_spec

USER_LOSS = """
from tempopt.distill.losses import Arg, DistillLoss
from tempopt.distill.losses.kd import kd_soft


class Sharpened(DistillLoss):
    '''kd against a teacher sharpened by ``power`` (a user's variant, found as module:Class).'''

    name = "sharpened"
    args = {"power": Arg(2.0, low=0.0, low_open=True, high=10.0)}

    def soft(self, student, teacher, targets, temperature, progress):
        return kd_soft(student, teacher * self.values["power"].view(-1, 1, 1), temperature)
"""

TASK_WITH_LOSS = """
from tempopt.distill.losses import register_loss
from tempopt.distill.losses.kd import KDLoss
from tempopt.tasks import load_task


@register_loss
class Halved(KDLoss):
    name = "halved-kd"

    def soft(self, student, teacher, targets, temperature, progress):
        return 0.5 * super().soft(student, teacher, targets, temperature, progress)


def make_task(**kwargs):
    return load_task("digits", kwargs)
"""


def _url(tmp_path):
    return f"sqlite:///{tmp_path / 'studies.db'}"


def _study(tmp_path, name="tiny"):
    return optuna.load_study(study_name=name, storage=_url(tmp_path))


@pytest.fixture
def user_modules(tmp_path, monkeypatch):
    (tmp_path / "my_losses.py").write_text(textwrap.dedent(USER_LOSS))
    (tmp_path / "my_task.py").write_text(textwrap.dedent(TASK_WITH_LOSS))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for name in ("my_losses", "my_task"):
        sys.modules.pop(name, None)
    from tempopt.distill.losses import _registry

    _registry._LOSSES.pop("halved-kd", None)


def test_a_searched_variant_is_exported_and_retrained_exactly(tmp_path, cli):
    search = {
        **tiny_spec(tmp_path)["search"],
        "kd_weight": {"low": 0.5, "high": 1.0},
        "loss": {"choices": ["learned", "dkd", "ttm"], "dkd": {"beta": {"low": 1.0, "high": 8.0}}},
    }
    spec = write_spec(
        tmp_path,
        trials=14,
        search=search,
        batch_trials=4,
        verify={"top_k": 2, "seeds": 1},
        sampler={"name": "tpe", "startup_trials": 9},  # the 9 distilled trials drawn at random: every variant
    )
    result = cli("run", spec, "--storage", _url(tmp_path), "-q")
    assert result.exit_code == 0, result.output
    trials = [t for t in _study(tmp_path).trials if not t.user_attrs.get("baseline")]
    assert {t.params["loss"] for t in trials} == {"learned", "dkd", "ttm"}
    for t in trials:
        if t.params["loss"] == "learned" and t.state == TrialState.COMPLETE:
            assert len(t.user_attrs["learned_temperature_per_epoch"]) == 4
            final = t.user_attrs["learned_temperature_per_epoch"][-1]
            assert t.user_attrs["learned_temperature"] == pytest.approx(final, abs=1e-5)
    best = tmp_path / "best.yaml"
    assert cli("export", "--study", "tiny", "--storage", _url(tmp_path), "--out", best).exit_code == 0
    exported = yaml.safe_load(best.read_text())
    assert exported["params"]["loss"] in ("learned", "dkd", "ttm")
    result = cli("train", best, "--out", tmp_path / "run", "--seed", exported["verdict"]["seeds"][0])
    assert result.exit_code == 0, result.output
    assert "difference +0.0000" in result.output  # the batched replicate, retrained alone
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["loss"] == exported["params"]["loss"]

    report = tmp_path / "report"
    assert cli("report", "--study", "tiny", "--storage", _url(tmp_path), "--out", report).exit_code == 0
    text = (report / "report.md").read_text()
    assert "## Loss variants" in text and "| learned " in text and "| dkd " in text


def test_a_user_variant_is_found_by_module_and_class(tmp_path, cli, user_modules):
    spec = write_spec(tmp_path, trials=6, loss="my_losses:Sharpened", loss_args={"power": 3.0}, verify={"seeds": 0})
    result = cli("run", spec, "--storage", _url(tmp_path), "-q")
    assert result.exit_code == 0, result.output
    assert sum(t.state == TrialState.COMPLETE for t in all_trials(_study(tmp_path))) == 6


@pytest.mark.parametrize(
    "loss, args, words",
    [
        ("my_losses:Sharpened", {"power": -1.0}, "key 'loss': loss 'sharpened': power=-1 lies outside (0, 10]"),
        ("my_losses:Sharpened", {"strength": 1.0}, "loss 'sharpened' has no arg 'strength'; its args are: power."),
        ("my_losses:Missing", {}, "module 'my_losses' has no subclass of tempopt.distill.DistillLoss named 'Missing'"),
    ],
)
def test_a_user_variant_s_bad_args_are_one_sentence_and_nothing_is_written(
    tmp_path, cli, user_modules, loss, args, words
):
    spec = write_spec(tmp_path, loss=loss, loss_args=args)
    result = cli("run", spec, "--storage", _url(tmp_path))
    assert result.exit_code == 2
    assert words in " ".join(result.output.split())
    assert not (tmp_path / "studies.db").exists() or not optuna.get_all_study_summaries(_url(tmp_path))


def test_a_variant_registered_by_the_task_module_is_known_by_its_name(tmp_path, cli, user_modules):
    spec = write_spec(tmp_path, trials=5, task="my_task:make_task", loss="halved-kd", verify={"seeds": 0})
    result = cli("run", spec, "--storage", _url(tmp_path), "-q")
    assert result.exit_code == 0, result.output
