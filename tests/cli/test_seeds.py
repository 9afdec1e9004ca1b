"""Seeds: the student seed never retrains the teacher, and a lone worker's study is the same anywhere."""

from __future__ import annotations

import optuna

from tempopt.study.workers import setup as preparation
from tempopt.study.workers.setup import sampler_seed

from .conftest import write_spec


def _trials(url: str, name: str = "tiny") -> list[tuple]:
    study = optuna.load_study(study_name=name, storage=url)
    return [(t.number, t.params, t.value, t.state) for t in study.trials]


def test_another_student_seed_reuses_the_teacher_and_teacher_seed_retrains_it(tmp_path, cli):
    url = f"sqlite:///{tmp_path / 's.db'}"
    keys = []
    for name, overrides, source in (
        ("a", {}, "trained"),
        ("b", {"seed": 5}, "cache"),
        ("c", {"teacher": {"epochs": 200, "lr": 0.01, "seed": 1}}, "trained"),
    ):
        spec = write_spec(tmp_path, f"{name}.yaml", trials=1, verify={"seeds": 0}, **overrides)
        spec.write_text(spec.read_text().replace("name: tiny", f"name: {name}"))
        result = cli("run", spec, "--storage", url, "-q")
        assert result.exit_code == 0, result.output
        assert f"({source})" in result.output, (name, result.output)
        keys.append(optuna.load_study(study_name=name, storage=url).user_attrs["teacher_key"])
    assert keys[0] == keys[1] != keys[2]


def test_a_lone_worker_gives_the_same_study_on_any_host(tmp_path, cli, monkeypatch):
    spec = write_spec(tmp_path, trials=6, sampler={"name": "tpe", "startup_trials": 2})
    studies = []
    for host in ("host-a", "host-b"):
        monkeypatch.setattr(preparation.socket, "gethostname", lambda host=host: host)
        url = f"sqlite:///{tmp_path / (host + '.db')}"
        assert cli("run", spec, "--storage", url, "-q").exit_code == 0
        studies.append(_trials(url))
    assert studies[0] == studies[1]


def test_only_workers_started_together_mix_in_their_index_and_host(monkeypatch):
    seeds = {}
    for host in ("host-a", "host-b"):
        monkeypatch.setattr(preparation.socket, "gethostname", lambda host=host: host)
        seeds[host] = [sampler_seed(0, i, 0) for i in range(3)]
    assert seeds["host-a"][0] == seeds["host-b"][0]  # a lone worker: host-independent
    assert seeds["host-a"][1:] != seeds["host-b"][1:]  # indexed workers: different on every host
    assert len(set(seeds["host-a"])) == 3
