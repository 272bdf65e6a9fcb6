"""SRResNet generator (Ledig et al., 2017): 9x9 head, B residual blocks, pixel-shuffle, 9x9 tail.

Batch normalisation is left out (as EDSR/ESRGAN later showed it only hurts SR),
which also makes tiled inference independent of the tile content.
"""

from __future__ import annotations

import torch
from torch import nn

from s2sr.archs.common import OutputHead, Upsampler, total_radius
from s2sr.grid import check_scale


class ResBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1), nn.PReLU(), nn.Conv2d(width, width, 3, padding=1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SRResNet(nn.Module):
    """``blocks`` residual blocks of ``width`` channels; any integer scale 2..8."""

    def __init__(self, in_ch: int = 4, scale: int = 4, width: int = 64, blocks: int = 16,
                 residual: bool = True, consistency: bool = False, mtf_nyquist: float = 0.3) -> None:
        super().__init__()
        self.in_ch, self.scale = in_ch, check_scale(scale, "scale")
        self.head = nn.Sequential(nn.Conv2d(in_ch, width, 9, padding=4), nn.PReLU())
        self.body = nn.Sequential(*[ResBlock(width) for _ in range(blocks)])
        self.body_tail = nn.Conv2d(width, width, 3, padding=1)
        self.up = Upsampler(width, self.scale)
        self.tail = nn.Conv2d(width, in_ch, 9, padding=4)
        if residual:  # start close to bicubic
            with torch.no_grad():
                self.tail.weight.mul_(0.1)
        self.out = OutputHead(self.scale, residual, consistency, mtf_nyquist)
        body_r = 4 + 2 * blocks + 1 + self.up.lr_radius() + 4 / self.scale
        self.receptive_field = total_radius(body_r, self.out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.head(x)
        f = f + self.body_tail(self.body(f))
        return self.out(x, self.tail(self.up(f)))
