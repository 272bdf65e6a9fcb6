"""Building blocks shared by the generators: pixel-shuffle upsampling and the output head.

Every generator maps a normalised (N, C, H, W) tensor to (N, C, H*s, W*s). The
:class:`OutputHead` adds the two options all of them share:

- ``residual=True``: the network predicts a residual over bicubic upsampling of
  the input (keeps radiometry: an untrained net already reproduces bicubic);
- ``consistency=True``: a hard :class:`~s2sr.archs.consistency.ConsistencyLayer`
  projects the output so that the sensor degradation of SR equals the input LR.
"""

from __future__ import annotations

import functools
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


_KERNELS: dict[str, tuple[int, Callable[[float], float]]] = {  # mode: (support radius in px, kernel)
    "bilinear": (1, lambda d: max(0.0, 1.0 - abs(d))),
    "bicubic": (2, lambda d: _cubic(abs(d))),
}


def _cubic(d: float, a: float = -0.75) -> float:
    """Keys' cubic convolution kernel with PyTorch's ``a = -0.75``."""
    if d <= 1:
        return ((a + 2) * d - (a + 3)) * d * d + 1
    return a * (((d - 5) * d + 8) * d - 4) if d < 2 else 0.0


@functools.lru_cache(maxsize=64)
def _impulse(mode: str, scale: int, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The 1-D response of ``F.interpolate(mode, align_corners=False)`` x ``scale`` to one input pixel,
    as depthwise transposed-convolution weights for ``channels`` channels: vertical, horizontal."""
    r, k = _KERNELS[mode]
    with torch.inference_mode(False):  # cached: a first call under inference_mode must not make them
        kern = torch.tensor([k((q - r * scale + 0.5) / scale - 0.5) for q in range((2 * r + 1) * scale)],
                            dtype=torch.float32)  # inference tensors, which autograd later refuses
        v = kern.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)
        return v, v.view(channels, 1, 1, -1).clone()


def upsample(x: torch.Tensor, scale: int, mode: str) -> torch.Tensor:
    """``F.interpolate(x, scale_factor=scale, mode=mode, align_corners=False)`` (``bilinear`` or
    ``bicubic``, edges replicated as it does), float32, as two strided depthwise transposed
    convolutions: on CPU (one thread) bicubic x4 of a 286 px 4-band tile takes 7 ms against 38 ms
    (``F.interpolate`` on a contiguous copy) or 62 ms (on channels-last), equal within 2e-5 (float32
    rounding); ONNX export writes ``Resize``. Runs outside autocast: the base of the output must not be
    rounded to bf16."""
    if scale == 1:
        return x.float()
    if torch.onnx.is_in_onnx_export():  # the exporter needs static shapes for a transposed conv
        return F.interpolate(x.float(), scale_factor=scale, mode=mode, align_corners=False)
    r = _KERNELS[mode][0]
    n, c, h, w = x.shape
    kv, kh = (k.to(x.device) for k in _impulse(mode, scale, c))
    with torch.autocast(device_type=x.device.type, enabled=False):
        # channels-last: oneDNN's depthwise transposed convolution is 3-8x slower on NCHW
        xp = F.pad(x.float().contiguous(memory_format=torch.channels_last), (r, r, r, r), mode="replicate")
        y = F.conv_transpose2d(xp, kv, stride=(scale, 1), groups=c)[:, :, 2 * r * scale:(2 * r + h) * scale]
        z = F.conv_transpose2d(y, kh, stride=(1, scale), groups=c)
        return z[..., 2 * r * scale:(2 * r + w) * scale]


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
            # in float32 (at least): a bf16 sum would round the whole value, base included, to
            # 8 bits of mantissa (steps of 0.03 at 4 std, tens of DN once denormalised)
            dt = torch.promote_types(y.dtype, torch.float32)
            y = upsample(x, self.scale, "bicubic").to(dt) + y.to(dt)
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
