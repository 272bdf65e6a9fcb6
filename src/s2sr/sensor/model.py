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
from functools import lru_cache
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

    # ---- matrices ----------------------------------------------------------------------
    def matrix(self, n_lr: int) -> np.ndarray:
        """The 1-D degradation as an (n_lr, n_lr * scale) float64 matrix ``A``.

        ``degrade(x) == A_h @ x @ A_w.T`` for a (H*s, W*s) array (mirror edges, as
        :meth:`blur`); lines shorter than the kernel radius + 1 use replicated edges.
        """
        return _degrade_matrix(self.scale, self.mtf_nyquist, int(n_lr)).copy()

    def projector(self, n_lr: int) -> np.ndarray:
        """``A^T (A A^T)^-1`` (n_lr * scale, n_lr): maps an LR residual to the least-norm
        fine-grid correction that removes it (the hard-consistency projection)."""
        return _projector(self.scale, self.mtf_nyquist, int(n_lr)).copy()

    # ---- torch -------------------------------------------------------------------------
    def degrade_torch(self, x: Any) -> Any:
        """Differentiable degradation of a (N, C, H*s, W*s) tensor to (N, C, H, W)."""
        import torch

        h, w = x.shape[-2] // self.scale, x.shape[-1] // self.scale
        if x.shape[-2] != h * self.scale or x.shape[-1] != w * self.scale:
            raise ValueError(f"shape {tuple(x.shape[-2:])} is not a multiple of scale {self.scale}")
        # torch.tensor copies the cached (read-only) matrices; as_tensor on them prints a UserWarning on stderr
        a_h = torch.tensor(_degrade_matrix(self.scale, self.mtf_nyquist, h), dtype=x.dtype, device=x.device)
        a_w = torch.tensor(_degrade_matrix(self.scale, self.mtf_nyquist, w), dtype=x.dtype, device=x.device)
        return a_h @ x @ a_w.T


def _mirror(i: np.ndarray, n: int) -> np.ndarray:
    """Indices reflected about the first and last sample (scipy "mirror", torch "reflect")."""
    if n == 1:
        return np.zeros_like(i)
    period = 2 * (n - 1)
    i = np.abs(i) % period
    return np.where(i >= n, period - i, i)


@lru_cache(maxsize=64)
def _degrade_matrix(scale: int, mtf: float, n_lr: int) -> np.ndarray:
    sensor = SensorModel(scale, mtf)
    n = n_lr * scale
    g = sensor.kernel1d()
    r = (len(g) - 1) // 2
    idx = np.arange(n)[:, None] + np.arange(-r, r + 1)[None, :]
    idx = _mirror(idx, n) if n > r else np.clip(idx, 0, n - 1)
    blur = np.zeros((n, n))
    np.add.at(blur, (np.repeat(np.arange(n), len(g)), idx.ravel()), np.tile(g, n))
    pool = np.kron(np.eye(n_lr), np.full((1, scale), 1.0 / scale))
    a = pool @ blur
    a.setflags(write=False)
    return a


@lru_cache(maxsize=64)
def _projector(scale: int, mtf: float, n_lr: int) -> np.ndarray:
    a = _degrade_matrix(scale, mtf, n_lr)
    b = np.ascontiguousarray(np.linalg.solve(a @ a.T, a).T)
    # the weights decay exponentially away from the diagonal: below 1e-12 of the largest they are
    # noise, and as float32 subnormals they would make matrix products ~20x slower on x86
    b[np.abs(b) < 1e-12 * np.abs(b).max()] = 0.0
    b.setflags(write=False)
    return b


def area_downsample(x: np.ndarray, scale: int) -> np.ndarray:
    """Mean over non-overlapping ``scale`` x ``scale`` blocks of a (..., H, W) array.

    H and W must be multiples of ``scale``.
    """
    *lead, h, w = x.shape
    if h % scale or w % scale:
        raise ValueError(f"shape {h}x{w} is not a multiple of scale {scale}")
    y = x.reshape(*lead, h // scale, scale, w // scale, scale)
    return y.mean(axis=(-3, -1), dtype=np.float64).astype(np.float32)
