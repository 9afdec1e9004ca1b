"""Every malformed study file exits 2 with one sentence naming the key, and writes nothing."""

from __future__ import annotations

import pytest
import yaml

from tests.cli.conftest import tiny_spec, write_spec

SEARCH = {
    "temperature": {"low": 1.0, "high": 20.0, "log": True},
    "kd_weight": {"low": 0.0, "high": 1.0},
    "lr": {"low": 1.0e-4, "high": 1.0e-1, "log": True},
}


def _search(**changes):
    search = {k: dict(v) for k, v in SEARCH.items()}
    for key, value in changes.items():
        search.setdefault(key, {}).update(value)
    return search


def _choices(key, *values):
    return {"search": {**SEARCH, key: {"choices": list(values)}}}


BOOLEAN = "expected a number, got true; write a number"
SEED = "a seed must be an integer with 0 <= seed < 2**62"
NAME = "may only hold letters, digits, '_', '.' and '-'"


CASES = [
    ("unknown key", {"epoch": 3}, "unknown key 'epoch'"),
    ("unknown search key", {"search": {**SEARCH, "momentum": {"low": 0, "high": 1}}}, "unknown key 'search.momentum'"),
    ("low > high", {"search": _search(temperature={"low": 30.0})}, "low=30 is greater than high=20"),
    ("log with low <= 0", {"search": _search(lr={"low": 0.0})}, "'search.lr': log: true needs low > 0"),
    ("kd_weight above 1", {"search": _search(kd_weight={"high": 1.5})}, "high must be a number within [0, 1], got 1.5"),
    ("kd_weight below 0", {"search": _search(kd_weight={"low": -0.1})}, "low must be a number within [0, 1], got -0.1"),
    ("kd_weight choice above 1", _choices("kd_weight", 0.5, 1.5), "choices must be numbers within [0, 1], got 1.5"),
    ("unknown task", {"task": "cifar1000"}, "unknown task 'cifar1000'"),
    ("unimportable task module", {"task": "no_such_pkg.mod:make_task"}, "module 'no_such_pkg.mod' cannot be imported"),
    ("missing task attribute", {"task": "tempopt.tasks.digits:nope"}, "has no callable 'nope'"),
    ("bad task_args", {"task_args": {"colour": "red"}}, "task_args ['colour'] do not fit task 'digits'"),
    (
        "unknown student_arch",
        {"task": "mnist", "task_args": {"student_arch": "resnet18"}},
        "student_arch 'resnet18' is unknown; use one of resnet8, resnet14, resnet20, resnet32, resnet8x4, resnet32x4.",
    ),
    ("missing required key", {"trials": None}, "'trials'"),
    ("zero epochs", {"epochs": 0}, "'epochs'"),
    ("unknown pruner", {"pruner": {"name": "quantile"}}, "'pruner.name'"),
    ("warm-up too long", {"pruner": {"name": "median", "warmup_epochs": 10}}, "pruner.warmup_epochs=10"),
    ("baseline lr out of range", {"baseline_lrs": [1.0]}, "baseline_lrs value 1 lies outside search.lr"),
    ("unknown loss", {"loss": "crd"}, "unknown loss 'crd'"),
    # booleans where numbers belong (pydantic alone would read them as 1 and 0)
    ("epochs: true", {"epochs": True}, f"key 'epochs': {BOOLEAN}"),
    ("trials: false", {"trials": False}, "key 'trials': expected a number, got false"),
    ("seed: true", {"seed": True}, f"key 'seed': {BOOLEAN}"),
    ("batch_size: true", {"batch_size": True}, f"key 'batch_size': {BOOLEAN}"),
    ("teacher.epochs: true", {"teacher": {"epochs": True}}, f"key 'teacher.epochs': {BOOLEAN}"),
    ("baseline_lrs: [true]", {"baseline_lrs": [True]}, f"key 'baseline_lrs.0': {BOOLEAN}"),
    ("low: true", {"search": _search(kd_weight={"low": True})}, f"key 'search.kd_weight.low': {BOOLEAN}"),
    ("step: true", {"search": _search(kd_weight={"step": True})}, f"key 'search.kd_weight.step': {BOOLEAN}"),
    ("temperature choices [true]", _choices("temperature", True), f"key 'search.temperature.choices.0': {BOOLEAN}"),
    ("lr choices [true]", _choices("lr", True), f"key 'search.lr.choices.0': {BOOLEAN}"),
    ("batch_size choices [true]", _choices("batch_size", 32, True), f"key 'search.batch_size.choices.1': {BOOLEAN}"),
    # seeds that would overflow later
    ("seed: 1e23", {"seed": 1e23}, f"key 'seed': {SEED}, got 1e+23"),
    ("seed: 2**62", {"seed": 2**62}, f"key 'seed': {SEED}, got 4611686018427387904"),
    ("seed: -1", {"seed": -1}, f"key 'seed': {SEED}, got -1"),
    ("teacher.seed: 1e23", {"teacher": {"seed": 1e23}}, f"key 'teacher.seed': {SEED}, got 1e+23"),
    # search spaces that cannot feed a trial
    (
        "temperature low 0",
        {"search": _search(temperature={"low": 0.0, "log": False})},
        "key 'search.temperature': low must be a number > 0, got 0",
    ),
    (
        "temperature choice -2",
        _choices("temperature", 4.0, -2),
        "key 'search.temperature': choices must be numbers > 0, got -2",
    ),
    ("lr choice not a number", _choices("lr", "fast"), "key 'search.lr': choices must be numbers > 0, got 'fast'"),
    ("lr choice negative", _choices("lr", -0.01), "key 'search.lr': choices must be numbers > 0, got -0.01"),
    (
        "batch_size range 0",
        {"search": _search(batch_size={"low": 0, "high": 0})},
        "key 'search.batch_size': low must be an integer >= 1, got 0",
    ),
    (
        "batch_size choice 0.5",
        _choices("batch_size", 32, 0.5),
        "key 'search.batch_size': choices must be integers >= 1, got 0.5",
    ),
    (
        "batch_size step 2.5",
        {"search": _search(batch_size={"low": 8, "high": 64, "step": 2.5})},
        "key 'search.batch_size': step must be a whole number, got 2.5",
    ),
    (
        "weight_decay below 0",
        {"search": _search(weight_decay={"low": -0.1, "high": 0.1})},
        "key 'search.weight_decay': low must be a number >= 0, got -0.1",
    ),
    # a plain number fixes a dimension, checked as its range would be
    ("fixed lr -1", {"search": {**SEARCH, "lr": -1}}, "key 'search.lr': a fixed value must be a number > 0, got -1"),
    (
        "fixed kd_weight 2",
        {"search": {**SEARCH, "kd_weight": 2}},
        "key 'search.kd_weight': a fixed value must be a number within [0, 1], got 2",
    ),
    ("fixed kd_weight 0", {"search": {**SEARCH, "kd_weight": 0}}, "a fixed kd_weight of 0 distils in no trial"),
    (
        "lr a word",
        {"search": {**SEARCH, "lr": "fast"}},
        "key 'search.lr': give a number (a fixed value) or a mapping such as {low: 1.0e-4, high: 0.1}",
    ),
    (
        "baseline_lrs beside a fixed lr",
        {"search": {**SEARCH, "lr": 0.01}},
        "baseline_lrs is given but search.lr is fixed at 0.01",
    ),
    (
        "misspelt kd_weight",
        {"search": {"kd_wieght": SEARCH["kd_weight"], "lr": SEARCH["lr"]}},
        "unknown key 'search.kd_wieght' (did you mean 'kd_weight'?); remove it or check its spelling",
    ),
    ("step 0", {"search": _search(kd_weight={"step": 0})}, "key 'search.kd_weight': step must be > 0, got 0"),
    ("step -0.5", {"search": _search(kd_weight={"step": -0.5})}, "key 'search.kd_weight': step must be > 0, got -0.5"),
    (
        "step beyond the range",
        {"search": _search(kd_weight={"step": 2.0})},
        "key 'search.kd_weight': step=2 is larger than high - low = 1",
    ),
    (
        "choices with a range",
        {"search": _search(kd_weight={"choices": [0.5]})},
        "key 'search.kd_weight': give either choices or low/high",
    ),
    # study names also name folders
    ("name ../../escape", {"name": "../../escape"}, f"study name '../../escape' {NAME}"),
    ("name /abs/path", {"name": "/abs/path"}, f"study name '/abs/path' {NAME}"),
    ("name with a trailing space", {"name": "casetest "}, f"study name 'casetest ' {NAME}"),
    ("name with a space", {"name": "a b"}, f"study name 'a b' {NAME}"),
    ("name too long", {"name": "n" * 101}, NAME),
    # a study that would never end (queuing its baseline alone ran out of memory)
    ("trials: 1e26", {"trials": 10**26}, "key 'trials': input should be less than or equal to 1000000"),
    ("trials: 1,000,001", {"trials": 1_000_001}, "key 'trials': input should be less than or equal to 1000000"),
    # the pre-flight: checked before the storage is opened
    ("device: banana", {"device": "banana"}, "device 'banana' is not a torch device; use auto, cpu or cuda[:N]."),
    (
        "teacher.epochs: 0 without a checkpoint",
        {"teacher": {"epochs": 0}},
        "key 'teacher.epochs' gives the teacher 0 training epochs and there is no teacher checkpoint, so the "
        "teacher would be untrained; set teacher.epochs to 1 or more, or give teacher.checkpoint.",
    ),
    ("study_dir set by hand", {"study_dir": "/elsewhere"}, "key 'study_dir' is set by tempopt"),
    # a spec too large for the study attribute it is stored in
    (
        "huge task_args",
        {"task_args": {"labelled": list(range(20_000))}},
        "over the 60,000-byte limit of a study attribute (a 64 KB TEXT column on MariaDB); shrink key 'task_args'",
    ),
    # augmentation and the view bank
    ("augment: {}", {"augment": {}}, "key 'augment': augment sets no augmentation; give crop, shift or flip: true"),
    ("augment.crop: 0", {"augment": {"crop": 0}}, "key 'augment.crop': input should be greater than or equal to 1"),
    ("teacher.views: -1", {"teacher": {"views": -1}}, "key 'teacher.views': input should be greater than or equal"),
    (
        "crop on flat inputs",
        {"augment": {"crop": 2}},
        "crop augments images (B, C, H, W), not inputs of shape (4, 64); use shift for sequences.",
    ),
]


@pytest.mark.parametrize("case, overrides, message", CASES, ids=[c[0] for c in CASES])
def test_malformed_spec_exits_2_and_leaves_no_storage(tmp_path, cli, case, overrides, message):
    spec = {k: v for k, v in tiny_spec(tmp_path, **overrides).items() if v is not None}  # None: key left out
    path = tmp_path / "study.yaml"  # not write_spec(name=...): its name is the file's
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    _assert_refused(tmp_path, cli, path, message)


def _bomb() -> str:
    """A 'billion laughs' in 600 bytes: 9 aliases of 9 aliases ... of one string, 9**9 strings in all."""
    lines = ["name: tiny", "task: digits", "task_args:", '  l0: &l0 "lol"']
    lines += [f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"


RAW_CASES = [
    (
        "anchor",
        "name: tiny\nsearch:\n  lr: &fast {low: 0.1, high: 1.0}\n",
        "uses a YAML anchor or alias (line 3); write the values out, a study file needs none.",
    ),
    ("alias", "name: tiny\nlr: *fast\n", "uses a YAML anchor or alias (line 2)"),
    ("merge key", "name: tiny\nbase: &b {low: 1}\nlr:\n  <<: *b\n", "uses a YAML anchor or alias (line 2)"),
    ("alias bomb", _bomb(), "uses a YAML anchor or alias (line 4)"),
    (
        "repeated top-level key",
        "name: tiny\nepochs: 3\ntrials: 2\nepochs: 4\n",
        "repeats key 'epochs' (line 4); keep one of them, the first is at line 2.",
    ),
    (
        "repeated nested key",
        "name: tiny\nsearch:\n  lr: {low: 0.1, high: 1}\n  lr: {low: 0.2, high: 1}\n",
        "repeats key 'lr' (line 4); keep one of them, the first is at line 3.",
    ),
    ("repeated key in a flow mapping", "name: tiny\nsearch: {lr: 1, lr: 2}\n", "repeats key 'lr' (line 2)"),
    ("nested too deeply", "task_args: " + "[" * 100 + "]" * 100 + "\n", "nests more than 64 levels deep (line 1)"),
    ("not UTF-8", b"name: caf\xe9\ntask: digits\n", "is not UTF-8 text (byte 0xe9 on line 1); save it as UTF-8."),
    ("unprintable character", "name: tiny\nseed: 0\x00\n", "holds the unprintable character U+0000 on line 2"),
    ("over 1 MB", "# padding\n" * 100_001, "is over 1,000,000 bytes; a study file is a few hundred"),
]


@pytest.mark.parametrize("case, content, message", RAW_CASES, ids=[c[0] for c in RAW_CASES])
def test_malformed_file_exits_2_and_leaves_no_storage(tmp_path, cli, case, content, message):
    path = tmp_path / "study.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    _assert_refused(tmp_path, cli, path, message)


def test_a_directory_is_not_a_study_file(tmp_path, cli):
    folder = tmp_path / "studies"
    folder.mkdir()
    _assert_refused(tmp_path, cli, folder, f"study file {str(folder)!r} is a directory")


def _assert_refused(tmp_path, cli, path, message):
    db = tmp_path / "studies.db"
    result = cli("run", path, "--storage", f"sqlite:///{db}")
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()), result.output
    assert result.output.count("error:") == 1
    assert "Traceback" not in result.output
    assert not db.exists()


def test_bad_yaml_names_the_line(tmp_path, cli):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\ntask: digits\nsearch: {temperature: [1, 2\n")
    result = cli("run", path, "--storage", f"sqlite:///{tmp_path / 's.db'}")
    assert result.exit_code == 2
    assert "is not valid YAML at line" in result.output
    assert not (tmp_path / "s.db").exists()


def test_missing_file_and_non_mapping(tmp_path, cli):
    result = cli("run", tmp_path / "absent.yaml")
    assert result.exit_code == 2 and "does not exist" in result.output
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    result = cli("run", path)
    assert result.exit_code == 2 and "must be a YAML mapping" in result.output


def test_bad_spec_leaves_an_existing_study_untouched(tmp_path, cli):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    good = write_spec(tmp_path, trials=2)
    assert cli("run", good, "--storage", url, "-q").exit_code == 0
    before = (tmp_path / "studies.db").read_bytes()
    bad = write_spec(tmp_path, "bad.yaml", trials=5, search=_search(temperature={"low": 50.0}))
    assert cli("run", bad, "--storage", url).exit_code == 2
    import optuna

    from tempopt.study.stored import all_trials

    study = optuna.load_study(study_name="tiny", storage=url)
    assert len(all_trials(study)) == 2  # one baseline (in its sibling) and one distilled
    assert (tmp_path / "studies.db").read_bytes() == before
