"""A user's task mistakes, each refused by the pre-flight before the storage is opened.

Every case of tests/study/preflight/broken_tasks.py (a task module as a user writes one) runs through
``tempopt run``: exit code 2, one sentence after one ``error:``, the user's own frames where the
mistake is in the user's code (and no frame of tempopt or torch), and no storage file. The two
mistakes with a safe repair (float64 inputs, BatchNorm's batch of one) run, with a note.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
import sqlalchemy
import torch
import yaml
from typer.testing import CliRunner

import tempopt.cli  # noqa: F401  (registers every command)
from tempopt.cli.app import app
from tempopt.errors import SpecError
from tempopt.study.preflight import preflight
from tempopt.study.spec.host import load_spec_task
from tempopt.study.spec.model import parse_spec
from tempopt.study.spec.task_fit import fit_task, student_batch_sizes
from tests.study.preflight.broken_tasks import _batchnorm_student, make_task

TASKS = Path(__file__).with_name("broken_tasks.py")
SEARCH = {
    "temperature": {"low": 1.0, "high": 4.0},
    "kd_weight": {"low": 0.0, "high": 1.0},
    "lr": {"low": 1.0e-3, "high": 1.0e-1, "log": True},
}


def _spec(tmp_path: Path, case: str = "ok", **changes) -> dict:
    return {
        "name": "broken",
        "task": "broken_tasks:make_task",
        "task_args": {"case": case},
        "epochs": 1,
        "trials": 2,
        "search": SEARCH,
        "batch_size": 32,
        "device": "cpu",
        "cache_dir": str(tmp_path / "cache"),
        "sampler": {"name": "random"},
        "verify": {"top_k": 1, "seeds": 0},
        **changes,
    }


@pytest.fixture
def cli():
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def user(tmp_path, monkeypatch, cli):
    """``tempopt run`` of a study file in ``tmp_path`` against a SQLite file there; the task module
    and the user's own modules importable, as from the user's working directory."""
    monkeypatch.syspath_prepend(str(TASKS.parent))
    monkeypatch.chdir(tmp_path)

    def run(spec: dict, *options: str):
        path = tmp_path / "study.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        return cli("run", path, "--storage", f"sqlite:///{tmp_path / 'studies.db'}", "-q", *options)

    return run


def _line(text: str, after: str = "") -> int:
    """The first line of broken_tasks.py that holds ``text``, after the first that holds ``after``."""
    lines = TASKS.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if after in line)
    return next(i for i, line in enumerate(lines[start:], start + 1) if text in line)


def _refused(result, message: str, frame: tuple[Path, int, str] | None = None, code: int = 2) -> None:
    """Exit ``code``, one sentence after one ``error:`` naming ``message``, then the user's frames only."""
    output = result.output
    assert result.exit_code == code, output
    assert output.count("error:") == 1 and "Traceback" not in output, output
    error = output[output.index("error:") + len("error:") :].strip().splitlines()
    assert message in error[0], output
    assert error[0].endswith(".") and not re.search(r"\.\s+[A-Z]", error[0]), error[0]  # one sentence
    details = [line for line in error[1:] if line.strip()]
    if frame is None:
        assert details == [], output
        return
    path, line, source = frame
    assert details[0] == "in your code:", output
    places = [d.strip() for d in details[1:] if d.startswith("  at ")]
    assert places and all(p.startswith(f"at {path}:") for p in places), output  # none of tempopt's or torch's
    assert f"  at {path}:{line}" in output and f"      {source}\n" in output, output


CASES = [
    (
        "student raises",
        "the student of task 'broken', run on 4 training inputs, raised RuntimeError: shape '[3, -1, 7]' is invalid "
        "for input of size 16; fix the model.",
        "return h.view(3, -1, 7)  # a reshape that fits no batch",
    ),
    (
        "student outputs 3",
        "the student of task 'broken' outputs logits of shape (4, 3) for 4 training inputs, not (4, 4) "
        "(num_classes=4); make it output one logit per class.",
        None,
    ),
    ("teacher outputs 3", "the teacher of task 'broken' outputs logits of shape (4, 3) for 4 training inputs", None),
    (
        "num_classes 10",
        "the teacher of task 'broken' outputs logits of shape (4, 4) for 4 training inputs, not (4, 10)",
        None,
    ),
    (
        "labels above",
        "the labels of the train split of task 'broken' run from 1 to 4, outside 0 .. 3 (num_classes=4); raise "
        "num_classes to 5, or relabel.",
        None,
    ),
    (
        "labels below",
        "the labels of the val split of task 'broken' run from -1 to 2, outside 0 .. 3 (num_classes=4); relabel them.",
        None,
    ),
    (
        "float labels",
        "the labels of the train split of task 'broken' are float32, not class indices; give integer labels "
        "0 .. num_classes-1 (y.long()).",
        None,
    ),
    (
        "one-hot labels",
        "the labels of the train split of task 'broken' have shape (40, 4); give one class index per example "
        "(one-hot? give y.argmax(1)).",
        None,
    ),
    (
        "nan inputs",
        "the inputs of the train split of task 'broken' are not all finite: 1 example(s) hold NaN values, the first "
        "is example 7; clean or drop them before building the task.",
        None,
    ),
    ("nan teacher", "the teacher of task 'broken' gives NaN logits on 4 finite training inputs; fix forward", None),
    ("empty train", "the train split of task 'broken' is empty (0 examples); give it labelled examples.", None),
    ("empty val", "the val split of task 'broken' is empty (0 examples); give it labelled examples.", None),
    (
        "tuple",
        "the student of task 'broken' returns a tuple of 2, not a tensor of logits; its element 0 has the logits' "
        "shape (4, 4): return only it from forward, or wrap the model in a module whose forward returns model(x)[0].",
        None,
    ),
    (
        "dict",
        "the student of task 'broken' returns a dict, not a tensor of logits; its key 'logits' has the logits' "
        "shape (4, 4): return only it from forward, or wrap the model in a module whose forward returns "
        "model(x)['logits'].",
        None,
    ),
    (
        "no parameters",
        "the student of task 'broken' (FixedStudent) has no trainable parameters, so there is nothing to train; "
        "return a model with parameters from the student factory.",
        None,
    ),
    ("one class", "task 'broken' has num_classes=1; a classifier needs a whole number of at least 2 classes", None),
    (
        "float64 beyond float32",
        "the inputs of the train split of task 'broken' are float64 with values up to 3.41e+300, beyond the range of "
        "the models' float32; scale the inputs, or give the models that dtype.",
        None,
    ),
    (
        "exit in factory",
        "the student factory of task 'broken' called sys.exit(0); fix the factory.",
        "sys.exit(0)",
    ),
    (
        "exit in make_task",
        "task 'broken_tasks:make_task' failed to build with task_args {'case': 'exit in make_task'} "
        "(sys.exit(0) was called); fix the task_args or the task factory.",
        "sys.exit(0)",
    ),
]


@pytest.mark.parametrize("case, message, source", CASES, ids=[c[0] for c in CASES])
def test_a_task_mistake_exits_2_with_one_sentence_and_writes_nothing(tmp_path, user, case, message, source):
    result = user(_spec(tmp_path, case))
    frame = None
    if source is not None:
        after = f'case == "{case}"' if case == "exit in make_task" else ""
        frame = (TASKS, _line(source, after), source)
    _refused(result, message, frame)
    assert not (tmp_path / "studies.db").exists() and not (tmp_path / "cache").exists()


@pytest.fixture
def modules(tmp_path):
    (tmp_path / "exits_on_import.py").write_text("import sys\n\nsys.exit(0)\n")
    (tmp_path / "bad_syntax.py").write_text("def make_task(:\n    pass\n")
    torch.save([torch.zeros(2)], tmp_path / "list.pt")
    torch.save(torch.zeros(2), tmp_path / "tensor.pt")


OTHER_CASES = [
    (
        "exit at import",
        {"task": "exits_on_import:make_task", "task_args": {}},
        "task 'exits_on_import:make_task': module 'exits_on_import' called sys.exit(0) while it was imported; "
        "fix the module.",
        ("exits_on_import.py", 3, "sys.exit(0)"),
    ),
    (
        "syntax error",
        {"task": "bad_syntax:make_task", "task_args": {}},
        "module 'bad_syntax' raised SyntaxError: invalid syntax (line 1) while it was imported; fix the module.",
        ("bad_syntax.py", 1, "def make_task(:"),
    ),
    (
        "student_hidden -1",
        {"task": "digits", "task_args": {"student_hidden": -1}},
        "task_args student_hidden=-1 must be a whole number of at least 1; give a width like 16.",
        None,
    ),
    (
        "teacher_hidden 10000000",
        {"task": "digits", "task_args": {"teacher_hidden": 10_000_000}},
        "the teacher of task 'digits' has 100,000,760,000,010 parameters (400.0 TB), more than the",
        None,
    ),
    (
        "device meta",
        {"device": "meta"},
        "device 'meta' is not one tempopt trains on (a meta tensor has a shape but no values); use auto, cpu or "
        "cuda[:N].",
        None,
    ),
    (
        "checkpoint holding a list",
        {"teacher": {"checkpoint": "list.pt"}},
        "teacher.checkpoint 'TMP/list.pt' holds a list, not a state_dict of tensors",
        None,
    ),
    (
        "checkpoint holding a tensor",
        {"teacher": {"checkpoint": "tensor.pt"}},
        "teacher.checkpoint 'TMP/tensor.pt' holds a Tensor, not a state_dict of tensors",
        None,
    ),
    (
        "heartbeat 1e30",
        {"failure": {"heartbeat_interval": 1e30}},
        "key 'failure.heartbeat_interval'",
        None,
    ),
    (
        "heartbeat of 10**30 whole seconds",
        {"failure": {"heartbeat_interval": 10**30}},
        "key 'failure.heartbeat_interval': input should be less than or equal to 86400",
        None,
    ),
]


@pytest.mark.parametrize("case, changes, message, frame", OTHER_CASES, ids=[c[0] for c in OTHER_CASES])
def test_a_study_mistake_exits_2_with_one_sentence_and_writes_nothing(
    tmp_path, user, modules, case, changes, message, frame
):
    result = user(_spec(tmp_path, **changes))
    if frame is not None:
        frame = (tmp_path / frame[0], *frame[1:])
    _refused(result, message.replace("TMP", str(tmp_path)), frame)
    assert not (tmp_path / "studies.db").exists()


@pytest.mark.parametrize(
    "url, message",
    [
        (
            "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
            "storage driver 'postgresql+asyncpg' is asynchronous, and tempopt's storage calls the database "
            "synchronously; use postgresql:// (tempopt installs its driver, psycopg).",
        ),
        (
            "mysql+mysqldb://root@127.0.0.1/test",
            "storage driver 'mysql+mysqldb' needs the Python package 'mysqlclient', which is not installed; pip "
            "install mysqlclient, or use mysql:// (tempopt installs its driver, PyMySQL).",
        ),
    ],
    ids=["asyncpg", "mysqldb"],
)
def test_a_storage_driver_that_cannot_be_used_names_what_to_install_or_use(tmp_path, user, url, message):
    result = user(_spec(tmp_path), "--storage", url)  # the last --storage wins
    _refused(result, message, code=3)  # the environment lacks the driver: exit 3, as for any storage URL


def test_a_port_out_of_range_is_refused_when_the_options_are_parsed(cli):
    result = cli("dashboard", "--port", "99999")
    assert result.exit_code == 2 and "Invalid value for '--port'" in result.output
    assert "less than or equal to 65535" in " ".join(result.output.split())


def test_float64_inputs_are_cast_with_a_note_and_the_study_runs(tmp_path, user, caplog):
    with caplog.at_level(logging.WARNING, logger="tempopt.study"):
        result = user(_spec(tmp_path, "float64"))
    assert result.exit_code == 0, result.output
    assert caplog.messages == [
        "the inputs of task 'broken' are cast to float32, the dtype of the student's parameters: train (float64), "
        "val (float64); give float32 tensors to skip this."
    ]
    assert "study broken: 2/2 finished (2 complete" in result.output


def test_a_batchnorm_students_batch_of_one_is_left_out_with_a_note_and_the_study_runs(tmp_path, user, caplog):
    with caplog.at_level(logging.WARNING, logger="tempopt.study"):
        result = user(_spec(tmp_path, "batchnorm"))
    assert result.exit_code == 0, result.output
    assert caplog.messages == [
        "the train split of task 'broken' has 33 examples, so with batch size 32 its last batch would hold one "
        "example, on which BatchNorm cannot train; its last example is left out (to keep them, give a number of "
        "examples that does not leave one over)."
    ]
    assert "study broken: 2/2 finished (2 complete" in result.output


@pytest.mark.parametrize("case", ["ok", "float64", "batchnorm"])
def test_every_place_that_builds_the_task_sees_the_data_the_preflight_checked(tmp_path, user, case):
    spec = parse_spec(_spec(tmp_path, case))
    checked = preflight(spec).task
    loaded = load_spec_task(spec)  # what a trial with searched task_args, and tempopt train, build
    for split in ("train", "val"):
        a, b = getattr(checked, split).tensors, getattr(loaded, split).tensors
        assert [t.dtype for t in a] == [t.dtype for t in b]
        assert all(torch.equal(s, t) for s, t in zip(a, b, strict=True))
    assert checked.train.tensors[0].dtype == torch.float32
    assert len(checked.train) == (32 if case == "batchnorm" else 40)


def test_a_correct_task_keeps_its_datasets(tmp_path, user):
    spec = parse_spec(_spec(tmp_path))
    built = make_task()
    kept = fit_task(built, spec, built.student(), built.teacher(), note=pytest.fail)
    assert kept.train is built.train and kept.val is built.val


@pytest.mark.parametrize(
    "searched, sizes",
    [
        (None, [32]),
        ({"choices": [16, 64]}, [16, 64]),
        ({"low": 8, "high": 32, "step": 8}, [8, 16, 24, 32]),
    ],
)
def test_the_batch_sizes_a_study_may_use(tmp_path, searched, sizes):
    search = SEARCH if searched is None else {**SEARCH, "batch_size": searched}
    assert student_batch_sizes(parse_spec(_spec(tmp_path, search=search))) == sizes


def test_a_batchnorm_split_is_trimmed_for_every_searched_batch_size_and_its_transfer_set_too(tmp_path):
    task = make_task("batchnorm")
    x = torch.randn(130, 6)
    task.train = torch.utils.data.TensorDataset(x, torch.arange(130) % 4)  # 130 % 43 == 1 and 129 % 64 == 1
    task.transfer = torch.utils.data.TensorDataset(torch.randn(13, 6))  # 3 steps an epoch: 5, 5, 3 - fine
    spec = parse_spec(_spec(tmp_path, search={**SEARCH, "batch_size": {"choices": [43, 64]}}))
    notes: list[str] = []
    fit_task(task, spec, _batchnorm_student(), task.teacher(), note=notes.append)
    assert len(task.train) == 128  # 130 - 2: neither 43 nor 64 leaves one over (43 leaves 42)
    assert len(task.transfer) == 13 and len(notes) == 1
    task.transfer = torch.utils.data.TensorDataset(torch.randn(9, 6))  # 3 steps of 3, and 2 at 64: 5, 4
    fit_task(task, spec, _batchnorm_student(), task.teacher(), note=notes.append)
    assert len(task.transfer) == 9
    task.transfer = torch.utils.data.TensorDataset(torch.randn(7, 6))  # 3 steps of 3: 3, 3, 1
    fit_task(task, spec, _batchnorm_student(), task.teacher(), note=notes.append)
    assert len(task.transfer) == 6 and "the transfer set of task 'broken' has 7 examples" in notes[-1]


def test_a_batchnorm_student_with_batch_size_1_is_refused(tmp_path):
    spec = parse_spec(_spec(tmp_path, batch_size=1))
    with pytest.raises(SpecError, match="has BatchNorm, which cannot train on batches of one example"):
        fit_task(make_task("batchnorm"), spec, _batchnorm_student(), make_task().teacher())


@pytest.mark.integration
@pytest.mark.parametrize("case", ["student raises", "labels above", "exit in factory"])
def test_on_postgresql_a_task_mistake_creates_no_table_and_no_study(tmp_path, user, case):
    from tests.workers.harness import fresh_database

    with fresh_database("postgresql", tmp_path) as url:
        result = user(_spec(tmp_path, case), "--storage", url)
        message = next(m for c, m, _ in CASES if c == case)
        assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output
        engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        try:
            assert sqlalchemy.inspect(engine).get_table_names() == []  # not even Optuna's schema
        finally:
            engine.dispose()
