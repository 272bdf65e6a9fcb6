"""EquiFine: an equivariant generator whose detail is made on the fine grid, with no LR-grid
pattern by construction and only a low-pass consistency.

    mu, sigma = local mean / std of each band over a (2r+1)^2 LR window
    x_n       = (x - mu) / sigma                                   (what the network sees)
    f         = body(x_n)                  residual 3x3 blocks on the LR grid
    g         = fine(cat(bilinear(f), bicubic(x_n)))   two 3x3 convs on the fine grid
    t         = dephase(bilinear(sigma) * g)   (detail scaled by local contrast, no local phase offsets)
    SR        = bicubic(x) + t
    SR        = lowpass(SR, x)             the output's low band is the input's (archs.lowpass)

Why not :class:`~s2sr.archs.equisr.EquiSR`'s pixel shuffle and exact projection: the shuffle
gives each of the s^2 sub-pixel phases its own filter, so a fixed pattern at the 10 m period
costs the network nothing and real Sentinel-2 came out as a checkerboard; the projection divides
by the assumed sensor's transfer near the LR Nyquist and turns any mismatch into halos. Here every
step from the LR grid to the fine grid is an interpolation (identical weights for every pixel of a
phase, exact on constants and ramps) followed by shift-invariant convolutions, so a constant input
gives a constant output and no phase can learn its own offset. Nonlinear detail can still differ by
phase *on average* (a bright roof is put where its LR pixel's centre is, so over a city the centre
phases come out brighter): :func:`dephase` removes, per sub-pixel phase, the local mean of the
detail that differs from the all-phase local mean (over ``dephase_radius`` LR px), so no phase keeps
an offset over any area of that size, and a spike at the LR sampling frequency cannot form. Equivariance to per-band gain and
offset (``a x + b -> a SR + b``, a > 0) holds as in EquiSR: x_n does not change, bicubic, sigma and
the low-pass layer are linear and keep constants.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from s2sr.archs.common import upsample
from s2sr.archs.equisr import local_stats
from s2sr.archs.lowpass import LowPassConsistency
from s2sr.grid import check_scale


def dephase(t: torch.Tensor, scale: int, radius: int) -> torch.Tensor:
    """Remove from each of the ``scale``^2 sub-pixel phases of ``t`` (N, C, h*s, w*s) its local mean
    (a (2 radius + 1)^2 LR-px box) minus the local mean over all phases: linear, keeps constants."""
    n, c = t.shape[:2]
    u = F.pixel_unshuffle(t, scale)
    h, w = u.shape[-2:]
    k = 2 * radius + 1
    mode = "reflect" if min(h, w) > radius else "replicate"
    local = F.avg_pool2d(F.pad(u, (radius, radius, radius, radius), mode=mode), k, stride=1)
    local = local.view(n, c, scale * scale, h, w)
    u = u - (local - local.mean(dim=2, keepdim=True)).view(n, c * scale * scale, h, w)
    return F.pixel_shuffle(u, scale)


class EquiFine(nn.Module):
    """``blocks`` residual blocks of ``width`` channels on the LR grid, two 3x3 convs of
    ``fine_width`` channels on the fine grid; see the module doc."""

    def __init__(self, in_ch: int = 4, scale: int = 4, width: int = 48, blocks: int = 6, fine_width: int = 24,
                 stats_radius: int = 7, eps: float = 0.01, lowpass_sigma: float = 1.0, lowpass_iters: int = 2,
                 mtf_nyquist: float = 0.39, dephase_radius: int = 4) -> None:
        super().__init__()
        if blocks < 0 or width < 1 or fine_width < 1 or stats_radius < 1 or eps <= 0 or dephase_radius < 0:
            raise ValueError(f"EquiFine: need blocks >= 0, width, fine_width >= 1, stats_radius >= 1, eps > 0; got "
                             f"blocks={blocks}, width={width}, fine_width={fine_width}, stats_radius={stats_radius}, eps={eps}, "
                             f"dephase_radius={dephase_radius}")
        self.in_ch, self.scale = in_ch, check_scale(scale, "scale")
        self.stats_radius, self.eps, self.dephase_radius = stats_radius, eps, dephase_radius
        self.head = nn.Conv2d(in_ch, width, 3, padding=1)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True),
                          nn.Conv2d(width, width, 3, padding=1)) for _ in range(blocks))
        self.to_fine = nn.Conv2d(width, fine_width, 1)
        self.fine1 = nn.Conv2d(fine_width + in_ch, fine_width, 3, padding=1)
        self.fine2 = nn.Conv2d(fine_width, in_ch, 3, padding=1)
        with torch.no_grad():  # start near bicubic (+ the low-pass layer)
            self.fine2.weight.mul_(0.1)
            if self.fine2.bias is not None:
                self.fine2.bias.zero_()
        self.lowpass = LowPassConsistency(self.scale, lowpass_sigma, mtf_nyquist, lowpass_iters)
        lr_convs = 1 + 2 * blocks
        self.receptive_field = lr_convs + stats_radius + 2 + 1 + dephase_radius + self.lowpass.lr_radius

    def detail(self, xn: torch.Tensor) -> torch.Tensor:
        """Normalised LR (N, C, h, w) -> detail on the fine grid (N, C, h*s, w*s), normalised units."""
        h = F.relu(self.head(xn))
        for b in self.blocks:
            h = h + b(h)
        f = upsample(self.to_fine(h), self.scale, "bilinear").to(h.dtype)
        g = F.relu(self.fine1(torch.cat([f, upsample(xn, self.scale, "bicubic").to(h.dtype)], 1)))
        return self.fine2(g)

    def unprojected(self, x: torch.Tensor) -> torch.Tensor:
        """Everything but the low-pass layer."""
        x32 = x.float()
        with torch.autocast(device_type=x.device.type, enabled=False):
            mu, sigma = local_stats(x32, self.stats_radius, self.eps)
            xn = (x32 - mu) / sigma
            base = upsample(x32, self.scale, "bicubic")
            sig = upsample(sigma, self.scale, "bilinear")
        t = sig * self.detail(xn).float()
        if self.dephase_radius:
            t = dephase(t, self.scale, self.dephase_radius)
        return base + t

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lowpass(self.unprojected(x), x)
