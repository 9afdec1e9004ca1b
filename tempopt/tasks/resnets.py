"""CIFAR-style residual networks, named as in the distillation literature.

The names and shapes follow the CIFAR ResNets of He et al. (2016) as the distillation papers
use them (CRD, Tian et al. 2020, and the works that compare against it): a 3×3 stem, three
stages of BasicBlocks (two 3×3 convolutions with BatchNorm, and a 1×1 projection where the
shape changes) with strides 1, 2, 2, global average pooling and a linear head. ``resnetD`` has
``(D - 2) / 6`` blocks per stage; the ``x4`` networks are four times as wide.

Any input size works (28×28 MNIST as well as 32×32 CIFAR): the pooling is global.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from tempopt.errors import TaskError

NARROW = (16, 16, 32, 64)  # stem, stage 1, stage 2, stage 3
WIDE = (32, 64, 128, 256)  # the "x4" networks of CRD

RESNETS: dict[str, tuple[int, tuple[int, int, int, int]]] = {
    "resnet8": (8, NARROW),
    "resnet14": (14, NARROW),
    "resnet20": (20, NARROW),
    "resnet32": (32, NARROW),
    "resnet8x4": (8, WIDE),
    "resnet32x4": (32, WIDE),
}


class BasicBlock(nn.Module):
    """Two 3×3 convolutions with BatchNorm, added to the input (projected when the shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: Tensor) -> Tensor:  # (B, c_in, H, W) -> (B, c_out, H / stride, W / stride)
        return (self.body(x) + self.shortcut(x)).relu()


class ResNet(nn.Module):
    """A 3×3 stem, three stages of ``blocks`` BasicBlocks (strides 1, 2, 2), a pooled linear head.

    Args:
        in_channels: channels of the input images (1 for MNIST, 3 for colour).
        num_classes: classes of the logits.
        widths: channels of the stem and of the three stages.
        blocks: BasicBlocks per stage.
    """

    def __init__(self, in_channels: int, num_classes: int, widths: tuple[int, int, int, int], blocks: int):
        super().__init__()
        stem = widths[0]
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, stem, 3, padding=1, bias=False),
            nn.BatchNorm2d(stem),
            nn.ReLU(inplace=True),
        ]
        c = stem
        for width, stride in zip(widths[1:], (1, 2, 2), strict=True):
            for i in range(blocks):
                layers.append(BasicBlock(c, width, stride if i == 0 else 1))
                c = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:  # (B, C_in, H, W) -> (B, C)
        return self.head(self.features(x).mean(dim=(2, 3)))


def resnet_names() -> list[str]:
    """The names :func:`resnet` knows, narrowest and shallowest first."""
    return list(RESNETS)


def resnet(name: str, in_channels: int, num_classes: int) -> ResNet:
    """The residual network called ``name`` (``resnet8`` … ``resnet32x4``), freshly initialised.

    Raises:
        TaskError: for a name not in :func:`resnet_names`.
    """
    return resnet_factory(name, in_channels, num_classes)()


def resnet_factory(name: str, in_channels: int, num_classes: int, arg: str = "architecture") -> Callable[[], ResNet]:
    """A zero-argument factory of fresh ``resnet(name, in_channels, num_classes)``, the name checked now.

    Args:
        arg: the task argument that gave the name, for the error message (``student_arch``).

    Raises:
        TaskError: for a name not in :func:`resnet_names`.
    """
    if name not in RESNETS:
        raise TaskError(f"{arg} {name!r} is unknown; use one of {', '.join(RESNETS)}.")
    depth, widths = RESNETS[name]
    return lambda: ResNet(in_channels, num_classes, widths, blocks=(depth - 2) // 6)
