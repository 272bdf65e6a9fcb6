"""EquiSR: a CPU-fast generator that is exactly equivariant to per-band gain and offset
and exactly consistent with the sensor model.

    mu, sigma = local mean / std of each band over a (2r+1)^2 LR window
    x_n       = (x - mu) / sigma                       (what the network sees)
    SR        = up(mu) + up(sigma) * net(x_n)          (up: bilinear; detail scaled by local contrast)
    SR        = project(SR, x)                         (degrade(SR) == x, hard consistency)

The projection puts back every frequency the sensor passes from the input itself, so
the base needs no interpolator of its own (projecting the local mean is as close to
the truth as projecting bicubic, and cheaper). Why: ``mu``, ``sigma`` and the
projection are linear in the input (sigma: up to sign) and preserve constants, and ``x_n`` does
not change when a band is scaled by ``a > 0`` and shifted by ``b``; so the output of
``a x + b`` is ``a SR + b`` (up to the tiny ``eps`` floor on sigma). A model trained on
top-of-atmosphere (L1C) reflectance then behaves the same on surface reflectance (L2A),
on another processing baseline or after a calibration change, and inputs far outside the
training range cannot drive the network out of its domain. On flat areas (water) sigma
is small, so the added detail is small: no LR-grid pattern. The projection keeps the low
frequencies of the input (SEN2SR's idea, done exactly): spectral angle and band means at
the LR scale are those of the input.

The network itself is ESPCN-like: all convolutions on the LR grid, one pixel shuffle.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from s2sr.archs.consistency import ConsistencyLayer
from s2sr.grid import check_scale


def upsample(x: torch.Tensor, scale: int, mode: str) -> torch.Tensor:
    """``F.interpolate`` (align_corners=False) of (N, C, h, w), on a contiguous (NCHW) copy: on CPU
    that is 2-4x faster than on channels-last memory. (``s2sr.archs.common.upsample``, the transposed
    convolutions, is 5x faster for the 4-band bicubic base of the residual models; here, bilinear on
    the 8 channels of mean and std, it was 28 -> 24 ms a tile and the whole model no faster in A/B
    runs, so the shipped model's arithmetic stays as it was.)"""
    return F.interpolate(x.contiguous(), scale_factor=scale, mode=mode, align_corners=False)


def local_stats(x: torch.Tensor, radius: int, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-band mean and ``sqrt(var + eps^2)`` over a (2r+1)^2 box (mirror edges), float32."""
    k = 2 * radius + 1
    c = x.shape[1]
    mode = "reflect" if min(x.shape[-2:]) > radius else "replicate"
    xp = F.pad(x, (radius, radius, radius, radius), mode=mode)
    m = torch.cat([xp, xp * xp], 1)
    m = F.avg_pool2d(F.avg_pool2d(m, (1, k), stride=1), (k, 1), stride=1)
    mu, m2 = m[:, :c], m[:, c:]
    return mu, torch.sqrt((m2 - mu * mu).clamp_min(0) + eps * eps)


class EquiSR(nn.Module):
    """``depth`` 3x3 conv layers (``blocks="plain"``) or ``depth // 2`` residual blocks
    (``"res"``) of ``width`` channels on locally normalised input; see the module doc."""

    def __init__(self, in_ch: int = 4, scale: int = 4, width: int = 48, depth: int = 8,
                 blocks: str = "plain", stats_radius: int = 7, eps: float = 0.01,
                 consistency: bool = True, mtf_nyquist: float = 0.3) -> None:
        super().__init__()
        if depth < 1 or blocks not in ("plain", "res") or stats_radius < 1 or eps <= 0:
            raise ValueError(f"EquiSR: need depth >= 1, blocks 'plain' or 'res', stats_radius >= 1, eps > 0; "
                             f"got depth={depth}, blocks={blocks!r}, stats_radius={stats_radius}, eps={eps}")
        self.in_ch, self.scale = in_ch, check_scale(scale, "scale")
        self.stats_radius, self.eps, self.residual_blocks = stats_radius, eps, blocks == "res"
        self.head = nn.Conv2d(in_ch, width, 3, padding=1)
        n = depth // 2 if self.residual_blocks else depth
        self.blocks = nn.ModuleList(self._block(width) for _ in range(n))
        self.tail = nn.Conv2d(width, in_ch * self.scale**2, 3, padding=1)
        with torch.no_grad():  # start at bicubic (+ projection)
            self.tail.weight.mul_(0.1)
            if self.tail.bias is not None:
                self.tail.bias.zero_()
        self.shuffle = nn.PixelShuffle(self.scale)
        self.consistency = ConsistencyLayer(self.scale, mtf_nyquist) if consistency else None
        convs = 2 + (2 * n if self.residual_blocks else n)
        extra = ConsistencyLayer.lr_radius if consistency else 0
        self.receptive_field = convs + stats_radius + 1 + extra

    def _block(self, width: int) -> nn.Module:
        if self.residual_blocks:
            return nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True),
                                 nn.Conv2d(width, width, 3, padding=1))
        return nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True))

    def detail(self, xn: torch.Tensor) -> torch.Tensor:
        """The network: normalised LR (N, C, h, w) -> detail on the fine grid (N, C, h*s, w*s)."""
        h = F.relu(self.head(xn))
        for b in self.blocks:
            h = h + b(h) if self.residual_blocks else b(h)
        return self.shuffle(self.tail(h))

    def unprojected(self, x: torch.Tensor) -> torch.Tensor:
        """Everything but the consistency projection (what ONNX export writes)."""
        x32 = x.float()
        c = x32.shape[1]
        with torch.autocast(device_type=x.device.type, enabled=False):
            mu, sigma = local_stats(x32, self.stats_radius, self.eps)
            xn = (x32 - mu) / sigma
            ms = upsample(torch.cat([mu, sigma], 1), self.scale, "bilinear")
        return torch.addcmul(ms[:, :c], ms[:, c:], self.detail(xn).float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.unprojected(x)
        return self.consistency(y, x) if self.consistency is not None else y
