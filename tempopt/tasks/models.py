"""Small teacher and student architectures used by the built-in tasks.

The residual networks (``resnet8`` … ``resnet32x4``) live in :mod:`tempopt.tasks.resnets` and
are re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from tempopt.errors import TaskError
from tempopt.tasks.resnets import ResNet, resnet, resnet_factory, resnet_names

__all__ = [
    "MLP",
    "ConvNet1d",
    "ConvNet2d",
    "ResNet",
    "check_widths",
    "image_model",
    "resnet",
    "resnet_factory",
    "resnet_names",
]


def check_widths(**widths: int) -> None:
    """Raise a TaskError naming the first of a built-in task's width ``task_args`` that is not a
    whole number of at least 1 (a layer of -1 units is torch's error deep inside the factory)."""
    for name, value in widths.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise TaskError(f"task_args {name}={value!r} must be a whole number of at least 1; give a width like 16.")


class MLP(nn.Module):
    """A multilayer perceptron over flattened inputs."""

    def __init__(self, in_features: int, hidden: list[int], num_classes: int, dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:  # (B, ...) -> (B, C)
        return self.net(x)


class ConvNet1d(nn.Module):
    """A 1-D CNN for sequences of shape ``(B, L)`` or ``(B, 1, L)``."""

    def __init__(self, length: int, num_classes: int, channels: int = 32):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(1, channels, 5, padding=2),
            nn.ReLU(),
            nn.Conv1d(channels, channels, 3, padding=1, stride=2),
            nn.ReLU(),
            nn.Conv1d(channels, channels, 3, padding=1, stride=2),
            nn.ReLU(),
        )
        self.head = nn.Linear(channels * ((length + 3) // 4), num_classes)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 2:
            x = x.unsqueeze(1)  # (B, L) -> (B, 1, L)
        return self.head(self.features(x).flatten(1))  # (B, C)


class ConvNet2d(nn.Module):
    """A small CNN for images ``(B, C_in, H, W)``, global-average pooled."""

    def __init__(self, in_channels: int, num_classes: int, width: int = 32, depth: int = 3):
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for i in range(depth):
            out = width * 2**i
            layers += [nn.Conv2d(c, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU()]
            if i < depth - 1:
                layers.append(nn.MaxPool2d(2))
            c = out
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))  # (B, C)


def image_model(
    arch: str | None, arg: str, in_channels: int, num_classes: int, width: int, depth: int
) -> tuple[Callable[[], nn.Module], str]:
    """A factory of the image model a task argument chooses, and its name for descriptions.

    Args:
        arch: a residual network's name (``resnet8`` … ``resnet32x4``), or None for
            ``ConvNet2d(in_channels, num_classes, width, depth)``.
        arg: the task argument that gave ``arch`` (``teacher_arch``), named in errors.

    Raises:
        TaskError: for a name not in :func:`resnet_names`.
    """
    if arch is not None:
        return resnet_factory(arch, in_channels, num_classes, arg), arch
    return (lambda: ConvNet2d(in_channels, num_classes, width=width, depth=depth)), f"CNN({width})"
