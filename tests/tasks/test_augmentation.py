"""The built-in augmentations are replayable: parameters from the generator alone, applied deterministically."""

from __future__ import annotations

import pytest
import torch

from tempopt.errors import TaskError
from tempopt.tasks.augmentation import Augmentation, Compose, Crop, Flip, Shift, from_settings


def _images(n: int = 6, size: int = 5) -> torch.Tensor:
    return torch.arange(n * 2 * size * size, dtype=torch.float32).view(n, 2, size, size) + 1  # no zeros


@pytest.mark.parametrize("augmentation", [Crop(2), Flip(), Shift(1), Compose([Crop(1), Flip()])])
def test_the_same_generator_state_gives_the_same_params_and_the_same_params_the_same_images(augmentation):
    x = _images()
    a = augmentation.sample(len(x), torch.Generator().manual_seed(7))
    b = augmentation.sample(len(x), torch.Generator().manual_seed(7))
    assert a.shape[0] == len(x) and a.dim() == 2 and torch.equal(a, b)
    assert torch.equal(augmentation.apply(x, a), augmentation.apply(x.clone(), a.clone()))
    state = torch.random.get_rng_state()
    augmentation.sample(len(x), torch.Generator().manual_seed(7))
    assert torch.equal(torch.random.get_rng_state(), state)  # the global stream is not touched


def test_a_crop_cuts_the_zero_padded_image_at_its_offset():
    x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]).view(1, 1, 3, 3)
    crop = Crop(1)
    assert torch.equal(crop.apply(x, torch.tensor([[1.0, 1.0]])), x)  # the centre: the image itself
    top_left = crop.apply(x, torch.tensor([[0.0, 0.0]]))
    assert top_left.view(3, 3).tolist() == [[0, 0, 0], [0, 1, 2], [0, 4, 5]]
    bottom_right = crop.apply(x, torch.tensor([[2.0, 2.0]]))
    assert bottom_right.view(3, 3).tolist() == [[5, 6, 0], [8, 9, 0], [0, 0, 0]]


def test_each_image_of_a_batch_is_cut_at_its_own_offset():
    x = _images(4)
    crop = Crop(2)
    params = torch.tensor([[0.0, 4.0], [2.0, 2.0], [4.0, 0.0], [1.0, 3.0]])
    batched = crop.apply(x, params)
    for i in range(4):
        assert torch.equal(batched[i : i + 1], crop.apply(x[i : i + 1], params[i : i + 1]))
    assert torch.equal(batched[1], x[1])
    offsets = crop.sample(1000, torch.Generator().manual_seed(0))
    assert offsets.min() == 0 and offsets.max() == 4  # 2·P + 1 positions per axis


def test_flip_reverses_the_last_axis_of_the_flagged_images_only():
    x = _images(2)
    out = Flip().apply(x, torch.tensor([[1.0], [0.0]]))
    assert torch.equal(out[0], x[0].flip(-1)) and torch.equal(out[1], x[1])
    share = Flip().sample(2000, torch.Generator().manual_seed(0)).mean().item()
    assert 0.45 < share < 0.55


def test_shift_moves_sequences_along_their_one_axis():
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    assert Shift(1).apply(x, torch.tensor([[0.0, 0.0]])).tolist() == [[0, 1, 2, 3]]
    assert Shift(1).apply(x, torch.tensor([[0.0, 2.0]])).tolist() == [[2, 3, 4, 0]]
    assert Shift(1).apply(x.view(1, 1, 4), torch.tensor([[0.0, 1.0]])).view(-1).tolist() == [1, 2, 3, 4]


def test_crop_refuses_inputs_that_are_not_images_in_one_sentence():
    with pytest.raises(TaskError, match="crop augments images .* use shift for sequences"):
        Crop(1).apply(torch.zeros(2, 8), torch.zeros(2, 2))


def test_the_study_files_settings_compose_crop_shift_and_flip_in_that_order():
    assert from_settings() is None
    assert isinstance(from_settings(crop=4), Crop)
    both = from_settings(crop=4, flip=True)
    assert isinstance(both, Compose) and [type(p) for p in both.parts()] == [Crop, Flip]
    params = both.sample(3, torch.Generator().manual_seed(0))
    assert params.shape == (3, 3)  # dy, dx, flip
    assert both.config() == {"parts": [["Crop", {"pad": 4}], ["Flip", {"p": 0.5}]]}


def test_a_users_augmentation_needs_only_sample_and_apply():
    class Brighten(Augmentation):
        def __init__(self, amount: float) -> None:
            self.amount = amount

        def sample(self, n, generator):
            return torch.rand(n, 1, generator=generator) * self.amount

        def apply(self, x, params):
            return x + params.view(-1, *([1] * (x.dim() - 1)))

    brighten = Brighten(0.5)
    assert brighten.config() == {"amount": 0.5}
    composed = Compose([Crop(1), brighten])
    x = _images(3)
    p = composed.sample(3, torch.Generator().manual_seed(1))
    assert p.shape == (3, 3) and torch.equal(composed.apply(x, p), composed.apply(x, p))
