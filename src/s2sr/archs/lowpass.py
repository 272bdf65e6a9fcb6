"""Low-pass consistency: the output's low frequencies are the input's (SEN2SR's constraint).

Every plausible Sentinel-2 response agrees at low spatial frequencies and disagrees near the LR
Nyquist, so an exact inversion of one assumed operator (:mod:`s2sr.archs.consistency`) amplifies
the mismatch there (it divides by a transfer of about 0.19). This layer constrains only what all
of them agree on::

    repeat iters times:  SR <- SR + up( L( LR - D(SR) ) )

``D`` is the family's central operator (Gaussian blur + detector mean), ``L`` a Gaussian low-pass
on the LR grid of std ``sigma_lr`` LR px (transfer 0.007 at the LR Nyquist for 1 px, 0.29 at a
quarter cycle), ``up`` bicubic. The band near the LR Nyquist is left to the network; no division by
a small transfer happens anywhere. The layer is linear in (SR, LR) and keeps constants, so a model
built on it stays equivariant to per-band gain and offset. Float32, outside autocast.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from s2sr.archs.common import upsample
from s2sr.sensor.family import gaussian_sigma_lr


def gaussian_taps(sigma: float) -> torch.Tensor:
    """Normalised 1-D Gaussian weights, radius ceil(3 sigma)."""
    r = max(1, int(math.ceil(3.0 * sigma)))
    x = torch.arange(-r, r + 1, dtype=torch.float64)
    w = torch.exp(-0.5 * (x / sigma) ** 2)
    return (w / w.sum()).float()


def separable_blur(x: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """Depthwise separable convolution of (N, C, H, W) with ``taps`` (reflected edges, replicated
    where the image is smaller than the kernel)."""
    c, r = int(x.shape[1]), (len(taps) - 1) // 2  # int: a constant in an ONNX graph (bands are not dynamic)
    k = taps.to(x.device, x.dtype)
    mode = "reflect" if min(x.shape[-2:]) > r else "replicate"
    x = F.pad(x, (r, r, 0, 0), mode=mode)
    x = F.conv2d(x, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    x = F.pad(x, (0, 0, r, r), mode=mode)
    return F.conv2d(x, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


class LowPassConsistency(nn.Module):
    """``SR <- SR + up(L(LR - D(SR)))``, ``iters`` times (see the module doc)."""

    def __init__(self, scale: int, sigma_lr: float = 1.0, mtf_nyquist: float = 0.39, iters: int = 2) -> None:
        super().__init__()
        if sigma_lr <= 0 or iters < 1 or not 0 < mtf_nyquist < 1:
            raise ValueError(f"LowPassConsistency: need sigma_lr > 0, iters >= 1, 0 < mtf_nyquist < 1; got "
                             f"{sigma_lr}, {iters}, {mtf_nyquist}")
        self.scale, self.iters = scale, iters
        self.low: torch.Tensor
        self.blur: torch.Tensor
        self.register_buffer("low", gaussian_taps(sigma_lr), persistent=False)
        self.register_buffer("blur", gaussian_taps(gaussian_sigma_lr(mtf_nyquist) * scale), persistent=False)
        # LR px an output pixel depends on through the layer: per round, the blur, the low-pass, bicubic
        per_round = math.ceil((len(self.blur) // 2) / scale) + len(self.low) // 2 + 2
        self.lr_radius = iters * per_round

    def degrade(self, y: torch.Tensor) -> torch.Tensor:
        """``D``: the central blur, then the mean over scale x scale pixels."""
        return F.avg_pool2d(separable_blur(y, self.blur), self.scale)

    def forward(self, sr: torch.Tensor, lr: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=sr.device.type, enabled=False):
            y, x = sr.float(), lr.float()
            for _ in range(self.iters):
                y = y + upsample(separable_blur(x - self.degrade(y), self.low), self.scale, "bicubic")
        return y
