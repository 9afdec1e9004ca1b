"""Teacher checkpoints: read with weights_only, a DDP prefix stripped, a misfit named in a few keys."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tempopt.distill import prepare_teacher
from tempopt.distill.teacher import load_weights, read_state_dict
from tempopt.errors import TaskError


def _wide(n: int) -> nn.Module:
    """``n`` linear layers in a ModuleList: 2n keys (``layers.i.weight``, ``layers.i.bias``)."""
    model = nn.Module()
    model.layers = nn.ModuleList(nn.Linear(4, 4) for _ in range(n))
    return model


def test_a_checkpoint_saved_from_ddp_loads_without_its_prefix_with_a_note(make_task, tiny, tmp_path):
    torch.manual_seed(3)
    saved = tiny.teacher()
    wrapped = nn.DataParallel(saved)  # what DDP and DataParallel save: every key prefixed with 'module.'
    path = tmp_path / "ddp.pt"
    torch.save(wrapped.state_dict(), path)
    assert all(k.startswith("module.") for k in torch.load(path, weights_only=True))

    state, note = read_state_dict(path)
    assert state.keys() == saved.state_dict().keys()
    assert note == (
        f"teacher_checkpoint {str(path)!r} was saved from DataParallel or DistributedDataParallel (every key "
        "starts with 'module.'); it is loaded without that prefix."
    )
    teacher = prepare_teacher(make_task(teacher_checkpoint=path), tmp_path / "cache", device="cpu")
    assert teacher.source == "checkpoint"
    assert all(torch.equal(v, saved.state_dict()[k]) for k, v in teacher.model.state_dict().items())


def test_a_plain_checkpoint_has_no_note_and_a_partly_prefixed_one_keeps_its_keys(tmp_path):
    model = _wide(1)
    torch.save(model.state_dict(), tmp_path / "plain.pt")
    assert read_state_dict(tmp_path / "plain.pt")[1] is None
    mixed = {"module.a": torch.zeros(1), "b": torch.zeros(1)}
    torch.save(mixed, tmp_path / "mixed.pt")
    assert read_state_dict(tmp_path / "mixed.pt") == (mixed, None)


def test_a_misfit_names_five_missing_and_five_unexpected_keys_and_counts_the_rest(tmp_path):
    path = tmp_path / "other.pt"
    state = {f"old.{i}": torch.zeros(1) for i in range(7)}
    with pytest.raises(TaskError) as caught:
        load_weights(_wide(4), state, path, "the teacher of task 'wide'", "teacher.checkpoint")
    assert str(caught.value) == (
        f"teacher.checkpoint {str(path)!r} does not fit the teacher of task 'wide' (missing keys: layers.0.weight, "
        "layers.0.bias, layers.1.weight, layers.1.bias, layers.2.weight and 3 more; unexpected keys: old.0, old.1, "
        "old.2, old.3, old.4 and 2 more); save the state_dict of the same architecture."
    )


def test_a_misfit_of_shapes_names_both_shapes(tmp_path):
    state = _wide(1).state_dict()
    state["layers.0.weight"] = torch.zeros(8, 4)
    with pytest.raises(TaskError, match=r"other shapes: layers\.0\.weight \(8, 4\) in the file, \(4, 4\) in the model"):
        load_weights(_wide(1), state, tmp_path / "x.pt", "the teacher", "teacher_checkpoint")


def test_a_fitting_checkpoint_is_loaded(tmp_path):
    source, target = _wide(2), _wide(2)
    load_weights(target, source.state_dict(), tmp_path / "x.pt", "the teacher", "teacher_checkpoint")
    assert all(torch.equal(v, source.state_dict()[k]) for k, v in target.state_dict().items())


def test_a_file_that_is_no_state_dict_is_refused(tmp_path):
    torch.save([torch.zeros(1)], tmp_path / "list.pt")
    with pytest.raises(TaskError, match="holds a list, not a state_dict of tensors"):
        read_state_dict(tmp_path / "list.pt")
