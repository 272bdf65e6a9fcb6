"""ESRGAN generator (Wang et al., 2018): residual-in-residual dense blocks (RRDB), no BN."""

from __future__ import annotations

import torch
from torch import nn

from s2sr.archs.common import OutputHead, Upsampler, total_radius
from s2sr.grid import check_scale


def _lrelu() -> nn.Module:
    return nn.LeakyReLU(0.2, inplace=True)


class DenseBlock(nn.Module):
    """Five 3x3 convs, each seeing all previous features; output scaled by 0.2 and added."""

    def __init__(self, width: int, growth: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(width + i * growth, growth if i < 4 else width, 3, padding=1) for i in range(5)
        )
        self.act = _lrelu()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for i, conv in enumerate(self.convs):
            y = conv(torch.cat(feats, 1))
            if i < 4:
                feats.append(self.act(y))
        return x + 0.2 * y


class RRDB(nn.Module):
    def __init__(self, width: int, growth: int) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*[DenseBlock(width, growth) for _ in range(3)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.2 * self.blocks(x)


class RRDBNet(nn.Module):
    """``blocks`` RRDBs of ``width`` channels and dense ``growth``; any integer scale 2..8."""

    def __init__(self, in_ch: int = 4, scale: int = 4, width: int = 64, blocks: int = 23,
                 growth: int = 32, residual: bool = True, consistency: bool = False,
                 mtf_nyquist: float = 0.3) -> None:
        super().__init__()
        self.in_ch, self.scale = in_ch, check_scale(scale, "scale")
        self.head = nn.Conv2d(in_ch, width, 3, padding=1)
        self.body = nn.Sequential(*[RRDB(width, growth) for _ in range(blocks)])
        self.body_tail = nn.Conv2d(width, width, 3, padding=1)
        self.up = Upsampler(width, self.scale, act=lambda: nn.LeakyReLU(0.2))
        last = nn.Conv2d(width, in_ch, 3, padding=1)
        self.tail = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), _lrelu(), last)
        if residual:
            with torch.no_grad():
                last.weight.mul_(0.1)
        self.out = OutputHead(self.scale, residual, consistency, mtf_nyquist)
        body_r = 1 + 15 * blocks + 1 + self.up.lr_radius() + 2 / self.scale
        self.receptive_field = total_radius(body_r, self.out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.head(x)
        f = f + self.body_tail(self.body(f))
        return self.out(x, self.tail(self.up(f)))
