"""The sensor model: LR = area_downsample(blur_MTF(HR)) (+ noise, for synthesis only).

One operator used everywhere: synthesis of the demo LR image, the degraded HR
that ``prepare`` aligns and harmonises against LR, the LR-consistency loss and
hard consistency layer in training, and the Wald protocol / consistency metrics
in ``evaluate``. Its parameters travel inside every checkpoint.

The blur is a separable Gaussian whose modulation transfer at the LR Nyquist
frequency (0.5 cycles per LR pixel) equals ``mtf_nyquist``. For a Gaussian of
std ``s`` (LR pixels), MTF(f) = exp(-2 pi^2 s^2 f^2), so
``s = sqrt(-2 ln(mtf)) / pi``. Edges use mirror padding (``torch`` "reflect",
``scipy`` "mirror"), identically in the numpy and torch versions.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from s2sr.grid import check_scale


@dataclass(frozen=True)
class SensorModel:
    """Degradation from the fine grid to the LR grid at integer ``scale``."""

    scale: int
    mtf_nyquist: float = 0.3

    def __post_init__(self) -> None:
        if not 0.0 < self.mtf_nyquist < 1.0:
            raise ValueError(f"mtf_nyquist must be in (0, 1), got {self.mtf_nyquist}")
        check_scale(self.scale, "sensor scale")

    @property
    def sigma_lr(self) -> float:
        """Gaussian std in LR pixels."""
        return math.sqrt(-2.0 * math.log(self.mtf_nyquist)) / math.pi

    @property
    def sigma_hr(self) -> float:
        """Gaussian std in fine-grid pixels."""
        return self.sigma_lr * self.scale

    def kernel1d(self) -> np.ndarray:
        """Normalised 1-D Gaussian kernel on the fine grid (odd length, radius 3 sigma)."""
        s = self.sigma_hr
        radius = max(1, int(math.ceil(3.0 * s)))
        x = np.arange(-radius, radius + 1, dtype=np.float64)
        k = np.exp(-0.5 * (x / s) ** 2)
        return (k / k.sum()).astype(np.float64)

    @property
    def radius_hr(self) -> int:
        return (len(self.kernel1d()) - 1) // 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SensorModel:
        return cls(scale=int(d["scale"]), mtf_nyquist=float(d.get("mtf_nyquist", 0.3)))

    # ---- numpy -------------------------------------------------------------------------
    def blur(self, hr: np.ndarray) -> np.ndarray:
        """Blur a (..., H, W) array on the fine grid (float64 math, float32 out)."""
        from scipy.ndimage import convolve1d

        k = self.kernel1d()
        x = np.asarray(hr, dtype=np.float64)
        x = convolve1d(x, k, axis=-1, mode="mirror")
        x = convolve1d(x, k, axis=-2, mode="mirror")
        return x.astype(np.float32)

    def degrade(self, hr: np.ndarray) -> np.ndarray:
        """(..., H*s, W*s) fine-grid array -> (..., H, W) LR array (blur, then area mean)."""
        return area_downsample(self.blur(hr), self.scale)

    # ---- torch -------------------------------------------------------------------------
    def degrade_torch(self, x: Any) -> Any:
        """Differentiable degradation of a (N, C, H*s, W*s) tensor to (N, C, H, W)."""
        import torch
        import torch.nn.functional as F

        k = torch.as_tensor(self.kernel1d(), dtype=x.dtype, device=x.device)
        n, c, h, w = x.shape
        r = (k.numel() - 1) // 2
        y = x.reshape(n * c, 1, h, w)
        mode = "reflect" if min(h, w) > r else "replicate"
        y = F.pad(y, (r, r, 0, 0), mode=mode)
        y = F.conv2d(y, k.view(1, 1, 1, -1))
        y = F.pad(y, (0, 0, r, r), mode=mode)
        y = F.conv2d(y, k.view(1, 1, -1, 1))
        y = F.avg_pool2d(y, self.scale)
        return y.reshape(n, c, h // self.scale, w // self.scale)


def area_downsample(x: np.ndarray, scale: int) -> np.ndarray:
    """Mean over non-overlapping ``scale`` x ``scale`` blocks of a (..., H, W) array.

    H and W must be multiples of ``scale``.
    """
    *lead, h, w = x.shape
    if h % scale or w % scale:
        raise ValueError(f"shape {h}x{w} is not a multiple of scale {scale}")
    y = x.reshape(*lead, h // scale, scale, w // scale, scale)
    return y.mean(axis=(-3, -1), dtype=np.float64).astype(np.float32)
