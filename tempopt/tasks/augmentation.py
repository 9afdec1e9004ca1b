"""Replayable augmentation: random parameters drawn from a generator, applied deterministically.

An :class:`Augmentation` splits "draw the randomness" from "transform the batch": ``sample``
draws one row of parameters per example from the generator it is given (and from nothing
else), ``apply`` turns a batch and its parameters into the augmented batch, with no randomness
of its own. The same parameters always give the same images, so the teacher's outputs on an
augmented view can be computed once, stored with the parameters' seed, and read back by every
trial that trains on that view (:mod:`tempopt.distill.views`).

The built-ins, set in a study file with ``augment: {crop: 4, flip: true}``:

- :class:`Crop` — pad ``P`` pixels of zeros on every side of an image, take a random crop of
  the original size (the CIFAR recipe);
- :class:`Flip` — a random horizontal flip;
- :class:`Shift` — a random shift of up to ``K`` positions along each spatial axis, zero-filled
  (images ``(B, C, H, W)`` and sequences ``(B, L)`` or ``(B, C, L)``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from tempopt.errors import TaskError


class Augmentation:
    """A random augmentation whose randomness is drawn up front and replayed.

    Subclass it and implement both methods; every attribute set in ``__init__`` that is a
    number, string or bool is the configuration the teacher cache key records (override
    :meth:`config` otherwise), and the class's source is recorded too.
    """

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """``(n, P)`` float parameters, one row per example, drawn only from ``generator``."""
        raise NotImplementedError

    def apply(self, x: Tensor, params: Tensor) -> Tensor:
        """The augmented batch: ``x`` is ``(B, ...)`` on the job's device, ``params`` its ``(B, P)`` rows."""
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """What distinguishes two instances of the class (recorded in the cache keys)."""
        return {k: v for k, v in vars(self).items() if isinstance(v, (bool, int, float, str))}

    def parts(self) -> list[Augmentation]:
        """The augmentations this one is made of (itself for a single one)."""
        return [self]


class Translate(Augmentation):
    """A random zero-filled translation by ``0 .. 2·pad`` after padding ``pad`` on every side:
    the shared mechanism of :class:`Crop` (images) and :class:`Shift` (images and sequences)."""

    def __init__(self, pad: int) -> None:
        if pad < 1:
            raise TaskError(f"an augmentation's padding {pad} must be at least 1 pixel; raise it or drop the key.")
        self.pad = pad

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        return torch.randint(0, 2 * self.pad + 1, (n, 2), generator=generator).float()  # (n, 2): dy, dx

    def apply(self, x: Tensor, params: Tensor) -> Tensor:
        offsets = params.to(device=x.device, dtype=torch.long)  # (B, 2)
        if x.dim() == 4:
            return _translate_2d(x, offsets[:, 0], offsets[:, 1], self.pad)
        if x.dim() in (2, 3):
            return _translate_1d(x, offsets[:, 1], self.pad)
        raise TaskError(
            f"{type(self).__name__.lower()} augments images (B, C, H, W) or sequences (B, L), not inputs of "
            f"shape {tuple(x.shape)}; drop the augmentation or give the task its own."
        )


class Crop(Translate):
    """Pad ``padding`` pixels of zeros, then take a random crop of the original size."""

    def __init__(self, padding: int) -> None:
        super().__init__(padding)

    def apply(self, x: Tensor, params: Tensor) -> Tensor:
        if x.dim() != 4:
            raise TaskError(
                f"crop augments images (B, C, H, W), not inputs of shape {tuple(x.shape)}; use shift for sequences."
            )
        return super().apply(x, params)


class Shift(Translate):
    """A random shift of up to ``pixels`` positions along each spatial axis, zero-filled."""

    def __init__(self, pixels: int) -> None:
        super().__init__(pixels)


class Flip(Augmentation):
    """A random horizontal flip (the last axis), with probability ``p``."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        return (torch.rand(n, 1, generator=generator) < self.p).float()  # (n, 1): 1 = flip

    def apply(self, x: Tensor, params: Tensor) -> Tensor:
        flip = params[:, 0].to(x.device).bool().view(-1, *([1] * (x.dim() - 1)))  # (B, 1, ...)
        return torch.where(flip, x.flip(-1), x)


class Compose(Augmentation):
    """Several augmentations in order; their parameter columns side by side.

    Each part's ``sample`` must return the same number of columns for every ``n``; that number
    is measured once (on one example, from a private generator).
    """

    def __init__(self, parts: list[Augmentation]) -> None:
        if not parts:
            raise TaskError("Compose needs at least one augmentation; give one or set augment to none.")
        self._parts = list(parts)
        probe = torch.Generator().manual_seed(0)
        self._widths = [int(p.sample(1, probe).shape[1]) for p in self._parts]

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        return torch.cat([p.sample(n, generator) for p in self._parts], dim=1)  # (n, ΣP)

    def apply(self, x: Tensor, params: Tensor) -> Tensor:
        for part, chunk in zip(self._parts, params.split(self._widths, dim=1), strict=True):
            x = part.apply(x, chunk)
        return x

    def config(self) -> dict[str, Any]:
        return {"parts": [[type(p).__qualname__, p.config()] for p in self._parts]}

    def parts(self) -> list[Augmentation]:
        return [leaf for p in self._parts for leaf in p.parts()]


def from_settings(crop: int | None = None, flip: bool = False, shift: int | None = None) -> Augmentation | None:
    """The study file's ``augment:`` as one augmentation (crop, then shift, then flip), or None."""
    parts: list[Augmentation] = []
    if crop:
        parts.append(Crop(crop))
    if shift:
        parts.append(Shift(shift))
    if flip:
        parts.append(Flip())
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else Compose(parts)


def _translate_2d(x: Tensor, dy: Tensor, dx: Tensor, pad: int) -> Tensor:
    """Each image ``b`` of ``x`` (B, C, H, W) cut from its zero-padded copy at ``(dy[b], dx[b])``."""
    b, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad)).flatten(2)  # (B, C, (H+2p)(W+2p))
    rows = dy[:, None] + torch.arange(h, device=x.device)  # (B, H)
    cols = dx[:, None] + torch.arange(w, device=x.device)  # (B, W)
    index = (rows[:, :, None] * (w + 2 * pad) + cols[:, None, :]).flatten(1)  # (B, H·W)
    return padded.gather(2, index[:, None, :].expand(b, c, h * w)).view(b, c, h, w)


def _translate_1d(x: Tensor, dx: Tensor, pad: int) -> Tensor:
    """Each sequence of ``x`` (B, L) or (B, C, L) cut from its zero-padded copy at ``dx[b]``."""
    flat = x.unsqueeze(1) if x.dim() == 2 else x  # (B, C, L)
    b, c, length = flat.shape
    padded = F.pad(flat, (pad, pad))  # (B, C, L+2p)
    index = dx[:, None] + torch.arange(length, device=x.device)  # (B, L)
    out = padded.gather(2, index[:, None, :].expand(b, c, length))  # (B, C, L)
    return out.squeeze(1) if x.dim() == 2 else out
