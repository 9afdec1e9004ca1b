"""The one resolver of "a registered name or ``package.module:attr``", on a registry of its own,
and the task and loss registries that use it."""

from __future__ import annotations

import sys
import textwrap
import uuid

import pytest

from tempopt.distill.losses import loss_class
from tempopt.distill.losses._registry import LOSS
from tempopt.errors import SpecError, TaskError, TempoptError
from tempopt.references import Kind, resolve
from tempopt.tasks import resolve_factory
from tempopt.tasks._registry import TASK


class ThingError(TempoptError):
    pass


THING: Kind[int] = Kind(
    noun="thing",
    form="package.module:THING",
    part="a number",
    accepts=lambda found: isinstance(found, int),
    expected="int",
    fix="assign one",
    error=ThingError,
    failures=(Exception, SystemExit),
    frames=lambda e: [f"frames of {type(e).__name__}"],
    raised=lambda e: f"raised {type(e).__name__}",
)
REGISTERED = {"one": 1, "lazy": "math:pi"}


@pytest.fixture
def module(tmp_path, monkeypatch):
    """``write(text)`` -> the name of a fresh module of ``text``, importable from the working folder."""
    monkeypatch.chdir(tmp_path)
    names = []

    def write(text: str) -> str:
        name = f"user_things_{uuid.uuid4().hex[:8]}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(text))
        names.append(name)
        return name

    yield write
    for name in names:
        sys.modules.pop(name, None)


def _error(ref: str, kind: Kind = THING, registered=REGISTERED) -> TempoptError:
    with pytest.raises(kind.error) as info:
        resolve(ref, registered, kind)
    message = str(info.value)
    assert message.endswith(".") and "\n" not in message and repr(ref) in message, message
    return info.value


def test_a_registered_name_is_its_object_and_a_string_entry_is_imported():
    import math

    assert resolve("one", REGISTERED, THING) == 1
    assert resolve("lazy", REGISTERED, THING) == math.pi  # a built-in's reference: not checked by `accepts`


def test_a_reference_is_imported_from_the_working_folder(module):
    name = module("THING = 7\n")
    assert resolve(f"{name}:THING", REGISTERED, THING) == 7


@pytest.mark.parametrize(
    "ref, sentence",
    [
        ("two", "unknown thing 'two'; use a built-in thing (lazy, one) or 'package.module:THING' for one of your own."),
        (":THING", "thing ':THING' must name both a module and a number, of the form 'package.module:THING'."),
        (
            "some.module:",
            "thing 'some.module:' must name both a module and a number, of the form 'package.module:THING'.",
        ),
    ],
)
def test_a_bad_name_is_one_sentence_with_the_fix(ref, sentence):
    assert str(_error(ref)) == sentence


def test_an_unimportable_module_keeps_the_import_error_as_its_cause():
    error = _error("no_such_module_zz9:THING")
    assert str(error) == (
        "thing 'no_such_module_zz9:THING': module 'no_such_module_zz9' cannot be imported "
        "(No module named 'no_such_module_zz9'); check that it is on PYTHONPATH and of the form "
        "'package.module:THING'."
    )
    assert isinstance(error.__cause__, ImportError) and error.details == ("frames of ModuleNotFoundError",)


@pytest.mark.parametrize(
    "code, did", [("1 / 0\n", "raised ZeroDivisionError"), ("import sys\nsys.exit(3)\n", "raised SystemExit")]
)
def test_a_module_that_raises_while_imported_is_the_user_s_to_fix(module, code, did):
    name = module(code)
    error = _error(f"{name}:THING")
    assert str(error) == f"thing '{name}:THING': module '{name}' {did} while it was imported; fix the module."
    assert error.details == (f"frames of {type(error.__cause__).__name__}",)


@pytest.mark.parametrize("attr", ["MISSING", "TEXT"])
def test_an_attribute_that_is_missing_or_not_one_names_what_it_must_be(module, attr):
    name = module("TEXT = 'seven'\n")
    assert str(_error(f"{name}:{attr}")) == (
        f"thing '{name}:{attr}': module '{name}' has no int {attr!r}; assign one and name it as 'package.module:THING'."
    )


# --- The two registries that use it -------------------------------------------------------------


def test_tasks_and_losses_resolve_through_it():
    assert (TASK.noun, TASK.error, LOSS.noun, LOSS.error) == ("task", TaskError, "loss", SpecError)
    assert str(_error("crd", LOSS, {})).startswith("unknown loss 'crd'")
    with pytest.raises(
        TaskError, match=r"^unknown task 'nope'; use a built-in task \(digits, .*for one of your own\.$"
    ):
        resolve_factory("nope")
    with pytest.raises(
        SpecError, match=r"^unknown loss 'nope'; use a built-in loss \(dkd, kd, .*for one of your own\.$"
    ):
        loss_class("nope")


def test_a_loss_module_that_raises_on_import_shows_the_user_s_frame(module):
    name = module(
        """
        from tempopt.distill.losses import DistillLoss

        class Mine(DistillLoss):
            name = "mine"

        undefined_name
        """
    )
    with pytest.raises(SpecError) as info:
        loss_class(f"{name}:Mine")
    assert str(info.value) == (
        f"loss '{name}:Mine': module '{name}' raised NameError: name 'undefined_name' is not defined "
        "while it was imported; fix the module."
    )
    assert info.value.details[0] == "in your code:" and info.value.details[-1].strip() == "undefined_name"


def test_a_loss_reference_without_a_module_is_one_sentence():
    with pytest.raises(SpecError, match=r"^loss ':Class' must name both a module and a class, of the form"):
        loss_class(":Class")


def test_a_user_loss_is_found_by_its_reference(module):
    name = module(
        """
        from tempopt.distill.losses import DistillLoss

        class Mine(DistillLoss):
            name = "mine"
        """
    )
    cls = loss_class(f"{name}:Mine")
    assert cls.__name__ == "Mine" and cls.__module__ == name
