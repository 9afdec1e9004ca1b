"""A replayable augmentation of your own (README: Augmentation)."""

import torch

from tempopt import Augmentation


class Cutout(Augmentation):
    """Zero a random ``size`` × ``size`` square of each image (B, C, H, W)."""

    def __init__(self, size: int, height: int, width: int) -> None:
        self.size, self.height, self.width = size, height, width  # the configuration the cache key records

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        top = torch.randint(0, self.height - self.size + 1, (n, 1), generator=generator)
        left = torch.randint(0, self.width - self.size + 1, (n, 1), generator=generator)
        return torch.cat([top, left], dim=1).float()  # (n, 2): one row per image

    def apply(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        rows = torch.arange(self.height, device=x.device)  # (H,)
        cols = torch.arange(self.width, device=x.device)  # (W,)
        top, left = params[:, :1].long(), params[:, 1:].long()  # (B, 1) each
        inside_rows = (rows >= top) & (rows < top + self.size)  # (B, H)
        inside_cols = (cols >= left) & (cols < left + self.size)  # (B, W)
        square = inside_rows[:, :, None] & inside_cols[:, None, :]  # (B, H, W)
        return x.masked_fill(square[:, None], 0.0)
