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

from s2sr.infer.tilework import Predictor

SAFE_TAG = "S2SR_SAFE"


def _bicubic(x: np.ndarray, scale: int, device: Any = "cpu") -> Any:
    """The safe output's base: bicubic upsampling (torch, ``align_corners=False``) of an (n, C, h, w) batch,
    as a float32 tensor on ``device`` (call under ``torch.inference_mode``)."""
    import torch

    t = torch.from_numpy(np.ascontiguousarray(x, np.float32)).to(device)
    return torch.nn.functional.interpolate(t, scale_factor=scale, mode="bicubic", align_corners=False)


def bicubic(x: np.ndarray, scale: int) -> np.ndarray:
    """Bicubic upsampling (torch, ``align_corners=False``) of an (n, C, h, w) float32 batch."""
    import torch

    with torch.inference_mode():
        out: np.ndarray = _bicubic(x, scale).numpy()
    return out


def _gain_applied(sr: Any, base: Any, half_width: Any, strength: float) -> Any:
    """The formula, on torch tensors: ``base + d d^2 / (d^2 + (strength h)^2)``, ``d = sr - base``
    (``sr`` where both ``d`` and ``h`` are 0)."""
    import torch

    d = sr - base
    d2 = d * d
    den = d2 + (strength * half_width) ** 2
    return base + d * torch.where(den > 0, d2 / den.clamp_min(torch.finfo(den.dtype).tiny), torch.ones_like(d2))


def safe_detail(sr: np.ndarray, base: np.ndarray, half_width: np.ndarray, strength: float) -> np.ndarray:
    """:func:`_gain_applied` on arrays (CPU)."""
    import torch

    with torch.inference_mode():
        return _gain_applied(torch.from_numpy(sr), torch.from_numpy(base), torch.from_numpy(half_width),
                             strength).numpy()


def safe_detail_on(device: str, x: np.ndarray, sr: np.ndarray, half_width: np.ndarray, strength: float) -> np.ndarray:
    """:func:`safe_detail` with the bicubic of the LR batch ``x`` as the base, computed by torch on
    ``device`` (the model's: on a GPU run the host threads are busy with the output work)."""
    import torch

    dev = torch.device(device)
    with torch.inference_mode():
        base = _bicubic(x, sr.shape[-2] // x.shape[-2], dev)
        h = torch.from_numpy(half_width).to(dev)
        return _gain_applied(torch.from_numpy(sr).to(dev), base, h, strength).cpu().numpy()


class SafeDetail:
    """A predictor giving the safe SR (then, with ``keep_half_widths``, the half-widths) from one giving
    the SR then the half-widths (:class:`~s2sr.infer.uncertainty.WithUncertainty`), computed on
    ``device``."""

    def __init__(self, inner: Predictor, strength: float, keep_half_widths: bool, device: str = "cpu") -> None:
        self.inner, self.strength, self.keep, self.device = inner, strength, keep_half_widths, device

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = self.inner(x)
        c = out.shape[1] // 2
        sr = out[:, :c]
        sr[...] = safe_detail_on(self.device, x, sr, out[:, c:], self.strength)
        return out if self.keep else sr


def safe_tags(strength: float, level: float) -> dict[str, str]:
    return {SAFE_TAG: f"detail over bicubic d kept as d * d^2 / (d^2 + ({strength:g} h)^2), h the half-width of "
                      f"the {100 * level:g} % interval (apply --safe)"}
