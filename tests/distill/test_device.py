"""Device names: each bad one is one sentence naming it and the fix."""

from __future__ import annotations

import pytest
import torch

from tempopt.distill.device import parse_device, resolve_device
from tempopt.errors import SpecError


@pytest.fixture
def one_gpu(monkeypatch):
    """A host with one CUDA device (whatever this one has)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)


@pytest.mark.parametrize(
    "name, message",
    [
        ("banana", "device 'banana' is not a torch device; use auto, cpu or cuda[:N]."),
        ("cuda:x", "device 'cuda:x' is not a torch device; use auto, cpu or cuda[:N]."),
        ("cuda:3", "device 'cuda:3' names GPU 3 but this host has 1 (cuda:0 to cuda:0); use one of those, or cuda."),
    ],
)
def test_a_device_this_host_cannot_give_is_one_sentence(one_gpu, name, message):
    with pytest.raises(SpecError) as caught:
        resolve_device(name)
    assert str(caught.value) == message


def test_the_gpus_this_host_has_are_given(one_gpu):
    assert resolve_device("cuda:0") == torch.device("cuda:0") and resolve_device("cuda") == torch.device("cuda")


def test_without_cuda_any_cuda_device_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SpecError, match="device 'cuda:3' was asked for but CUDA is not available; use auto or cpu."):
        resolve_device("cuda:3")
    assert parse_device("cuda:3") == torch.device("cuda:3")  # a name is checked without the device
    assert parse_device("auto") is None
