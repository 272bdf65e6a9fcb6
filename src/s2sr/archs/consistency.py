"""Hard LR-consistency output layer: make ``degrade(SR) == LR`` exactly.

The sensor degradation ``D`` (Gaussian-MTF blur then area mean, see
:class:`s2sr.sensor.SensorModel`) is linear, so the closest SR (least squares)
that satisfies ``D(SR) = LR`` is the orthogonal projection::

    SR' = SR + D^T (D D^T)^{-1} (LR - D SR)

``(D D^T)`` is a small symmetric positive-definite operator on the LR grid; it is
inverted with conjugate gradients in float64 (separately per image and band) until
``max |D(SR') - LR| < tol``. The adjoint ``D^T`` comes from autograd of ``D``, so it
matches ``SensorModel.degrade_torch`` exactly, edge padding included. The layer is
differentiable (a custom backward applies the same projection to the gradient).

Normalisation by per-band mean/std commutes with ``D`` (its weights sum to one),
so the layer works in normalised units and the property holds in input units too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from s2sr.sensor import SensorModel

_TINY = 1e-300


def degrade_adjoint(sensor: SensorModel, v: torch.Tensor, hr_shape: torch.Size) -> torch.Tensor:
    """``D^T v``: the adjoint of ``sensor.degrade_torch`` applied to an LR-grid tensor."""
    with torch.inference_mode(False), torch.enable_grad():  # also works under inference_mode
        z = torch.zeros(hr_shape, dtype=v.dtype, device=v.device, requires_grad=True)
        (g,) = torch.autograd.grad(sensor.degrade_torch(z), z, grad_outputs=v.clone())
    return g


def _lr_kernel(sensor: SensorModel) -> np.ndarray:
    """1-D kernel ``c`` of ``D D^T`` on the LR grid (away from edges): ``c[j] = R_h(s j)``.

    ``h`` is the Gaussian convolved with the s-pixel box and ``R_h`` its autocorrelation.
    """
    s = sensor.scale
    h = np.convolve(sensor.kernel1d(), np.full(s, 1.0 / s))
    r = np.correlate(h, h, mode="full")
    centre = len(h) - 1
    j = centre // s
    return r[centre - j * s: centre + j * s + 1: s]


def _symbol(c: np.ndarray, n: int) -> np.ndarray:
    """DFT of the symmetric kernel ``c`` on a periodic grid of ``n`` points (real)."""
    j = np.arange(len(c)) - len(c) // 2
    k = np.arange(n)
    return (c[None, :] * np.cos(2 * np.pi * np.outer(k, j) / n)).sum(1)


def _preconditioner(sensor: SensorModel, h: int, w: int, like: torch.Tensor) -> torch.Tensor:
    """Inverse Fourier symbol of ``D D^T`` with periodic edges (exact in the interior)."""
    c = _lr_kernel(sensor)
    sym = np.outer(_symbol(c, h), _symbol(c, w))
    return torch.as_tensor(1.0 / np.maximum(sym, 1e-12), dtype=like.dtype, device=like.device)


def _normal_solve(sensor: SensorModel, b: torch.Tensor, hr_shape: torch.Size,
                  max_iter: int, tol: float) -> torch.Tensor:
    """Solve ``(D D^T) z = b`` by preconditioned conjugate gradients, per (image, band).

    The FFT preconditioner is the periodic-edge inverse, so only the mirror-padded
    edges are left for CG: a handful of iterations reach float64 round-off.
    """
    inv = _preconditioner(sensor, b.shape[-2], b.shape[-1], b)

    def op(p: torch.Tensor) -> torch.Tensor:
        return sensor.degrade_torch(degrade_adjoint(sensor, p, hr_shape))

    def prec(r: torch.Tensor) -> torch.Tensor:
        return torch.fft.ifft2(torch.fft.fft2(r) * inv).real

    def dot(a: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return (a * c).sum((2, 3), keepdim=True)

    z = torch.zeros_like(b)
    r = b.clone()
    y = prec(r)
    p = y
    rz = dot(r, y)
    for _ in range(max_iter):
        if float(r.abs().max()) < tol:
            break
        ap = op(p)
        alpha = rz / dot(p, ap).clamp_min(_TINY)
        z = z + alpha * p
        r = r - alpha * ap
        y = prec(r)
        rz_new = dot(r, y)
        p = y + (rz_new / rz.clamp_min(_TINY)) * p
        rz = rz_new
    return z


class _Project(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, sr: torch.Tensor, lr: torch.Tensor, sensor: SensorModel,
                max_iter: int, tol: float) -> torch.Tensor:
        ctx.sensor, ctx.max_iter, ctx.tol, ctx.hr_shape = sensor, max_iter, tol, sr.shape
        z = _normal_solve(sensor, lr - sensor.degrade_torch(sr), sr.shape, max_iter, tol)
        return sr + degrade_adjoint(sensor, z, sr.shape)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[Any, ...]:
        s = ctx.sensor
        v = _normal_solve(s, s.degrade_torch(g), ctx.hr_shape, ctx.max_iter, ctx.tol * 1e-2)
        return g - degrade_adjoint(s, v, ctx.hr_shape), v, None, None, None


class ConsistencyLayer(nn.Module):
    """Project SR onto ``{SR : degrade(SR) = LR}`` (float64 inside, float32 out)."""

    # (D D^T)^-1 decays exponentially: at 16 LR px its weight is < 1e-5 (MTF 0.3) and
    # ~1e-4 (MTF 0.2) of the centre, so 16 LR px of tile margin reproduce the whole-image result.
    lr_radius = 16

    def __init__(self, scale: int, mtf_nyquist: float = 0.3, max_iter: int = 100,
                 tol: float = 1e-8) -> None:
        super().__init__()
        self.sensor = SensorModel(scale=scale, mtf_nyquist=mtf_nyquist)
        self.max_iter, self.tol = max_iter, tol

    def forward(self, sr: torch.Tensor, lr: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=sr.device.type, enabled=False):
            dt = torch.float64 if sr.device.type != "mps" else torch.float32
            out = _Project.apply(sr.to(dt), lr.to(dt), self.sensor, self.max_iter, self.tol)
        return out.to(torch.float32)
