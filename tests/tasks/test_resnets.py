"""The CIFAR-style residual networks: every name builds, maps images to logits, and has the literature's size."""

from __future__ import annotations

import pytest
import torch

from tempopt.errors import TaskError
from tempopt.tasks.models import resnet, resnet_factory, resnet_names

# Parameters with 3 input channels and 100 classes, as reported for CIFAR-100 (CRD, Tian et al. 2020;
# resnet14, which the paper's tables leave out, as its code builds it).
LITERATURE_PARAMS = {
    "resnet8": 0.08e6,
    "resnet14": 0.18e6,
    "resnet20": 0.28e6,
    "resnet32": 0.47e6,
    "resnet8x4": 1.23e6,
    "resnet32x4": 7.43e6,
}


def _n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_the_names_are_those_of_the_literature():
    assert resnet_names() == list(LITERATURE_PARAMS)


@pytest.mark.parametrize("name", resnet_names())
@pytest.mark.parametrize("shape", [(2, 1, 28, 28), (2, 3, 32, 32), (2, 3, 8, 8)])
def test_every_resnet_maps_images_to_logits(name, shape):
    model = resnet(name, shape[1], 7)
    assert model(torch.randn(shape)).shape == (2, 7)


@pytest.mark.parametrize("name", resnet_names())
def test_every_resnet_has_the_size_the_literature_reports(name):
    assert _n_params(resnet(name, 3, 100)) == pytest.approx(LITERATURE_PARAMS[name], rel=0.05)


def test_depth_and_width_follow_the_name():
    def convs(name: str) -> list[torch.nn.Conv2d]:
        return [m for m in resnet(name, 1, 10).modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)]

    assert len(convs("resnet8")) == 7 and len(convs("resnet32")) == 31  # depth - 1: the head is the last layer
    assert [c.out_channels for c in convs("resnet8")] == [16, 16, 16, 32, 32, 64, 64]
    assert [c.out_channels for c in convs("resnet8x4")] == [32, 64, 64, 128, 128, 256, 256]
    assert [c.stride for c in convs("resnet8")] == [(1, 1), (1, 1), (1, 1), (2, 2), (1, 1), (2, 2), (1, 1)]


def test_a_factory_makes_fresh_networks():
    make = resnet_factory("resnet8", 1, 10)
    a, b = make(), make()
    assert a is not b and not torch.equal(a.head.weight, b.head.weight)


def test_an_unknown_name_is_one_sentence_listing_the_known_ones():
    with pytest.raises(TaskError) as info:
        resnet_factory("resnet9", 1, 10, "student_arch")
    assert str(info.value) == (
        "student_arch 'resnet9' is unknown; use one of resnet8, resnet14, resnet20, resnet32, resnet8x4, resnet32x4."
    )
