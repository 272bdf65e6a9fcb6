"""A small fast generator for CPUs (ESPCN-like): a few 3x3 convs on the LR grid and one
pixel shuffle straight to the output bands, so almost all work happens at LR size.
"""

from __future__ import annotations

import torch
from torch import nn

from s2sr.archs.common import OutputHead, total_radius
from s2sr.grid import check_scale


class Light(nn.Module):
    """``depth`` 3x3 conv layers of ``width`` channels, then conv -> PixelShuffle(scale)."""

    def __init__(self, in_ch: int = 4, scale: int = 4, width: int = 32, depth: int = 4,
                 residual: bool = True, consistency: bool = False, mtf_nyquist: float = 0.3) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.in_ch, self.scale = in_ch, check_scale(scale, "scale")
        layers: list[nn.Module] = [nn.Conv2d(in_ch, width, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(depth - 1):
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*layers)
        self.tail = nn.Conv2d(width, in_ch * self.scale**2, 3, padding=1)
        self.shuffle = nn.PixelShuffle(self.scale)
        if residual:
            with torch.no_grad():
                self.tail.weight.mul_(0.1)
                if self.tail.bias is not None:
                    self.tail.bias.zero_()
        self.out = OutputHead(self.scale, residual, consistency, mtf_nyquist)
        self.receptive_field = total_radius(depth + 1, self.out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(x, self.shuffle(self.tail(self.body(x))))
