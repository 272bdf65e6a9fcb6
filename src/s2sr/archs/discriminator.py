"""Discriminators for GAN fine-tuning (they take normalised HR-size images, any size).

- ``srgan``: SRGAN-style strided conv net (conv, LeakyReLU, stride-2 stages doubling
  the width), global average pooling and a small MLP -> one logit per image.
- ``patch``: a PatchGAN-style fully convolutional net -> a logit map (one per patch).

``spectral_norm=True`` wraps every convolution (and linear layer) in spectral normalisation
(Miyato et al. 2018), which bounds the discriminator's Lipschitz constant and keeps a small-batch
GAN on CPU from diverging.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def _sn(m: nn.Module, on: bool) -> nn.Module:
    return nn.utils.parametrizations.spectral_norm(m) if on else m


def _block(cin: int, cout: int, stride: int, sn: bool = False) -> list[nn.Module]:
    return [_sn(nn.Conv2d(cin, cout, 3, stride, 1), sn), nn.LeakyReLU(0.2, inplace=True)]


class SRGANDiscriminator(nn.Module):
    def __init__(self, in_ch: int = 4, width: int = 64, stages: int = 4, spectral_norm: bool = False) -> None:
        super().__init__()
        sn = spectral_norm
        layers = _block(in_ch, width, 1, sn) + _block(width, width, 2, sn)
        w = width
        for _ in range(stages - 1):
            layers += _block(w, 2 * w, 1, sn) + _block(2 * w, 2 * w, 2, sn)
            w *= 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), _sn(nn.Linear(w, 2 * w), sn),
                                  nn.LeakyReLU(0.2, inplace=True), _sn(nn.Linear(2 * w, 1), sn))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class PatchDiscriminator(nn.Module):
    def __init__(self, in_ch: int = 4, width: int = 64, stages: int = 3, spectral_norm: bool = False) -> None:
        super().__init__()
        layers = _block(in_ch, width, 2, spectral_norm)
        w = width
        for _ in range(stages - 1):
            layers += _block(w, 2 * w, 2, spectral_norm)
            w *= 2
        layers.append(_sn(nn.Conv2d(w, 1, 3, 1, 1), spectral_norm))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


DISCRIMINATORS: dict[str, Callable[..., nn.Module]] = {
    "srgan": SRGANDiscriminator,
    "patch": PatchDiscriminator,
}
