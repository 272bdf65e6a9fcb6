"""Discriminators for GAN fine-tuning (they take normalised HR-size images, any size).

- ``srgan``: SRGAN-style strided conv net (conv, LeakyReLU, stride-2 stages doubling
  the width), global average pooling and a small MLP -> one logit per image.
- ``patch``: a PatchGAN-style fully convolutional net -> a logit map (one per patch).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def _block(cin: int, cout: int, stride: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, stride, 1), nn.LeakyReLU(0.2, inplace=True)]


class SRGANDiscriminator(nn.Module):
    def __init__(self, in_ch: int = 4, width: int = 64, stages: int = 4) -> None:
        super().__init__()
        layers = _block(in_ch, width, 1) + _block(width, width, 2)
        w = width
        for _ in range(stages - 1):
            layers += _block(w, 2 * w, 1) + _block(2 * w, 2 * w, 2)
            w *= 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(w, 2 * w),
                                  nn.LeakyReLU(0.2, inplace=True), nn.Linear(2 * w, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class PatchDiscriminator(nn.Module):
    def __init__(self, in_ch: int = 4, width: int = 64, stages: int = 3) -> None:
        super().__init__()
        layers = _block(in_ch, width, 2)
        w = width
        for _ in range(stages - 1):
            layers += _block(w, 2 * w, 2)
            w *= 2
        layers.append(nn.Conv2d(w, 1, 3, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


DISCRIMINATORS: dict[str, Callable[..., nn.Module]] = {
    "srgan": SRGANDiscriminator,
    "patch": PatchDiscriminator,
}
