"""The error model: predicts, per output pixel and band, the scale of the SR model's absolute error.

    mu, sigma = local mean / std of each LR band over a (2r+1)^2 window (as in equisr)
    x_n       = (x - mu) / sigma                          LR, normalised
    y_n       = unshuffle((SR - up_nearest(mu)) / up_nearest(sigma))    SR, normalised, on the LR grid
    scale     = up_nearest(sigma) * exp(shuffle(net([x_n, y_n])))

Both inputs are invariant under a per-band gain ``a > 0`` and offset ``b`` of the input when
the SR model is equivariant (equisr: SR(a x + b) = a SR(x) + b), so the predicted scale of
``a x + b`` is ``a`` times that of ``x``: like the SR itself, the error model reads L1C and
L2A alike. The network is small (convolutions on the LR grid, one pixel shuffle); it sees the
SR model's output, which is where most of the information about the error lies (edges the
model drew, texture it added). Units: the bundle's normalised units (see
:class:`~s2sr.uncertainty.section.UncertaintyHead`, which turns scales into half-widths).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from s2sr.archs.equisr import local_stats
from s2sr.grid import check_scale

HEAD_ARCHS = ("errnet",)


class ErrNet(nn.Module):
    """``depth`` 3x3 convolutions of ``width`` channels on the LR grid; see the module doc."""

    def __init__(self, in_ch: int = 4, scale: int = 4, width: int = 32, depth: int = 6,
                 stats_radius: int = 7, eps: float = 0.01) -> None:
        super().__init__()
        if depth < 2 or width < 1 or stats_radius < 1 or eps <= 0:
            raise ValueError(f"ErrNet: need depth >= 2, width >= 1, stats_radius >= 1, eps > 0; got depth={depth}, "
                             f"width={width}, stats_radius={stats_radius}, eps={eps}")
        self.in_ch, self.scale = in_ch, check_scale(scale, "scale")
        self.stats_radius, self.eps = stats_radius, eps
        s2 = self.scale**2
        layers: list[nn.Module] = [nn.Conv2d(in_ch * (1 + s2), width, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(width, in_ch * s2, 3, padding=1))
        self.net = nn.Sequential(*layers)
        self.shuffle = nn.PixelShuffle(self.scale)
        self.unshuffle = nn.PixelUnshuffle(self.scale)
        # LR pixels of context an output pixel depends on (the tile margin it needs)
        self.receptive_field = depth + stats_radius + 1

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """LR ``x`` (N, C, h, w) and SR ``y`` (N, C, h*s, w*s), both normalised -> scale (N, C, h*s, w*s)."""
        x, y = x.float(), y.float()
        n, c, h, w = x.shape
        s2 = self.scale**2
        with torch.autocast(device_type=x.device.type, enabled=False):
            mu, sigma = local_stats(x, self.stats_radius, self.eps)
            mu, sigma = mu[:, :, None], sigma[:, :, None]  # (N, C, 1, h, w): one value per LR pixel
            yn = (self.unshuffle(y).view(n, c, s2, h, w) - mu) / sigma  # SR sub-pixels on the LR grid
            feats = torch.cat([(x[:, :, None] - mu) / sigma, yn], 2).view(n, c * (1 + s2), h, w)
            logm = self.net(feats.contiguous(memory_format=torch.channels_last)).clamp(-12.0, 12.0)
            scale = torch.exp(logm.reshape(n, c, s2, h, w)) * sigma
            return self.shuffle(scale.reshape(n, c * s2, h, w))


def build_head(arch: str, **kwargs: Any) -> nn.Module:
    """The error model ``arch`` (only ``"errnet"`` for now) with ``kwargs``."""
    if arch != "errnet":
        raise ValueError(f"unknown uncertainty head {arch!r}; known: {', '.join(HEAD_ARCHS)}")
    return ErrNet(**kwargs)


def laplace_nll(scale: torch.Tensor, abs_err: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean Laplace negative log-likelihood ``log b + |e| / b`` over pixels with ``weight`` > 0."""
    nll = torch.log(scale) + abs_err / scale
    return (nll * weight).sum() / weight.sum().clamp_min(1.0)

