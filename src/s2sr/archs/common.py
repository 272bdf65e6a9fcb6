"""Building blocks shared by the generators: pixel-shuffle upsampling and the output head.

Every generator maps a normalised (N, C, H, W) tensor to (N, C, H*s, W*s). The
:class:`OutputHead` adds the two options all of them share:

- ``residual=True``: the network predicts a residual over bicubic upsampling of
  the input (keeps radiometry: an untrained net already reproduces bicubic);
- ``consistency=True``: a hard :class:`~s2sr.archs.consistency.ConsistencyLayer`
  projects the output so that the sensor degradation of SR equals the input LR.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from s2sr.archs.consistency import ConsistencyLayer
from s2sr.grid import check_scale


def prime_factors(n: int) -> list[int]:
    """Prime factors of ``n`` in increasing order (8 -> [2, 2, 2], 6 -> [2, 3], 7 -> [7])."""
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


class Upsampler(nn.Sequential):
    """Pixel-shuffle stages, one per prime factor of ``scale`` (conv 3x3 -> shuffle -> act)."""

    def __init__(self, width: int, scale: int, act: Callable[[], nn.Module] = nn.PReLU) -> None:
        layers: list[nn.Module] = []
        self.factors = prime_factors(check_scale(scale, "scale"))
        for p in self.factors:
            layers += [nn.Conv2d(width, width * p * p, 3, padding=1), nn.PixelShuffle(p), act()]
        super().__init__(*layers)

    def lr_radius(self) -> float:
        """Receptive radius the 3x3 convs add, in LR pixels (each acts at its own resolution)."""
        r, res = 0.0, 1
        for p in self.factors:
            r += 1.0 / res
            res *= p
        return r


class OutputHead(nn.Module):
    """Adds the bicubic residual and the hard consistency layer to a raw network output."""

    def __init__(self, scale: int, residual: bool, consistency: bool, mtf_nyquist: float) -> None:
        super().__init__()
        self.scale, self.residual = scale, residual
        self.consistency = ConsistencyLayer(scale, mtf_nyquist) if consistency else None

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.residual:
            up = F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
            y = y + up.to(y.dtype)
        if self.consistency is not None:
            y = self.consistency(y, x)
        return y

    def extra_radius(self) -> int:
        """LR pixels the head adds to the receptive field (bicubic 2, consistency 16)."""
        r = 2 if self.residual else 0
        if self.consistency is not None:
            r += self.consistency.lr_radius
        return r


def total_radius(body_lr: float, head: OutputHead) -> int:
    """Round a generator's receptive radius up to whole LR pixels."""
    return int(math.ceil(body_lr)) + head.extra_radius()
