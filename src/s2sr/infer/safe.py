"""``apply --safe``: keep the SR's detail over bicubic only where it stands above the predicted error.

Per output pixel and band, with ``b`` the bicubic upsampling of the input tile, ``d = SR - b`` the
detail the model adds and ``h`` the calibrated half-width of the error model
(:mod:`s2sr.infer.uncertainty`, at ``--uncertainty-level``), the safe output is

    b + d * d^2 / (d^2 + (s h)^2)        (s = --safe-strength, default 0.5)

a Wiener-like gain: detail much larger than ``s h`` is kept, detail below it falls back towards
bicubic. It gives up the model's exact LR consistency. Measured per city in docs/uncertainty.md
(``benchmarks/safe_cities.py``). Needs a model with an uncertainty head.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from s2sr.errors import ConfigError
from s2sr.infer.tilework import Predictor

SAFE_TAG = "S2SR_SAFE"


def bicubic(x: np.ndarray, scale: int) -> np.ndarray:
    """Bicubic upsampling (torch, ``align_corners=False``) of an (n, C, h, w) float32 batch."""
    import torch

    t = torch.from_numpy(np.ascontiguousarray(x, np.float32))
    with torch.inference_mode():
        return torch.nn.functional.interpolate(t, scale_factor=scale, mode="bicubic", align_corners=False).numpy()


def safe_detail(sr: np.ndarray, base: np.ndarray, half_width: np.ndarray, strength: float) -> np.ndarray:
    """``base + d d^2 / (d^2 + (strength half_width)^2)`` with ``d = sr - base`` (``sr`` where both are 0)."""
    d = sr - base
    d2 = d * d
    den = d2 + np.square(strength * half_width)
    gain = np.divide(d2, den, out=np.ones_like(d2), where=den > 0)
    return base + d * gain


def safe_detail_on(device: str, x: np.ndarray, sr: np.ndarray, half_width: np.ndarray, strength: float) -> np.ndarray:
    """:func:`safe_detail` with the bicubic of the LR batch ``x``, computed by torch on ``device`` (a GPU
    run: the host threads are busy with the output work)."""
    import torch

    dev = torch.device(device)
    with torch.inference_mode():
        xt = torch.from_numpy(np.ascontiguousarray(x, np.float32)).to(dev)
        base = torch.nn.functional.interpolate(xt, scale_factor=sr.shape[-2] // x.shape[-2], mode="bicubic",
                                               align_corners=False)
        d = torch.from_numpy(sr).to(dev) - base
        d2 = d * d
        den = d2 + (strength * torch.from_numpy(half_width).to(dev)) ** 2
        gain = torch.where(den > 0, d2 / den.clamp_min(torch.finfo(den.dtype).tiny), torch.ones_like(d2))
        return (base + d * gain).cpu().numpy()


class SafeDetail:
    """A predictor giving the safe SR (then, with ``keep_half_widths``, the half-widths) from one giving
    the SR then the half-widths (:class:`~s2sr.infer.uncertainty.WithUncertainty`); on ``device``
    other than the CPU, the bicubic and the gain are computed there."""

    def __init__(self, inner: Predictor, strength: float, keep_half_widths: bool, device: str = "cpu") -> None:
        self.inner, self.strength, self.keep, self.device = inner, strength, keep_half_widths, device

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = self.inner(x)
        c = out.shape[1] // 2
        sr = out[:, :c]
        if self.device == "cpu":
            sr[...] = safe_detail(sr, bicubic(x, sr.shape[-2] // x.shape[-2]), out[:, c:], self.strength)
        else:
            sr[...] = safe_detail_on(self.device, x, sr, out[:, c:], self.strength)
        return out if self.keep else sr


def check_safe(opts: Any) -> None:
    """One-line errors for ``--safe`` requests this version cannot run (before anything is written)."""
    if not opts.safe_strength > 0:
        raise ConfigError(f"--safe-strength {opts.safe_strength:g}: must be > 0 (default 0.5)")


def safe_tags(strength: float, level: float) -> dict[str, str]:
    return {SAFE_TAG: f"detail over bicubic d kept as d * d^2 / (d^2 + ({strength:g} h)^2), h the half-width of "
                      f"the {100 * level:g} % interval (apply --safe)"}
