"""Hard LR-consistency output layer: make ``degrade(SR) == LR`` exactly.

The sensor degradation ``D`` (Gaussian-MTF blur then area mean, mirror edges, see
:class:`s2sr.sensor.SensorModel`) is linear and separable: ``D(x) = A_h x A_w^T`` with
one small matrix per axis. The closest SR (least squares) with ``D(SR) = LR`` is the
orthogonal projection::

    SR' = SR + D^T (D D^T)^{-1} (LR - D SR) = SR + B_h (LR - D SR) B_w^T,
    B = A^T (A A^T)^{-1}   (precomputed per tile size, float64, cached)

so the layer is four matrix products: exact at the edges too, fast on CPU and GPU, and
differentiable by autograd (its gradient is the same projection, which is symmetric).
``A`` is banded (16 fine pixels per LR row) and ``B``'s weights fall below 1e-12 of the largest
within ~36 LR pixels, so each product runs over the matrix's non-zero blocks only
(:class:`BandedMatrix`: 3-10x fewer operations on 256-512 px tiles, the same sums).
It runs outside autocast, in float32 by default (float64 with ``exact=True``).

Normalisation by per-band mean/std commutes with ``D`` (its rows sum to one), so the
layer works in normalised units and the property holds in input units too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from s2sr.sensor import SensorModel


def degrade_adjoint(sensor: SensorModel, v: torch.Tensor, hr_shape: torch.Size) -> torch.Tensor:
    """``D^T v``: the adjoint of ``sensor.degrade_torch`` applied to an LR-grid tensor."""
    h, w = v.shape[-2], v.shape[-1]
    if (h * sensor.scale, w * sensor.scale) != tuple(hr_shape[-2:]):
        raise ValueError(f"LR shape {(h, w)} x scale {sensor.scale} does not match {tuple(hr_shape[-2:])}")
    a_h = torch.as_tensor(sensor.matrix(h), dtype=v.dtype, device=v.device)
    a_w = torch.as_tensor(sensor.matrix(w), dtype=v.dtype, device=v.device)
    return a_h.T @ v @ a_w


class BandedMatrix:
    """A matrix kept as its row blocks, each with the column range where it is non-zero.

    ``left(x)`` is ``m @ x`` over the last-but-one axis of ``x``, ``right(x)`` is ``x @ m.T`` over the
    last; the products skip the zero blocks, so they equal the dense ones up to float rounding.
    """

    def __init__(self, m: torch.Tensor, block: int = 32) -> None:
        """``block`` rows per block; 0: one dense block (on GPUs, where many small products cost more
        in kernel launches than the zeros they skip)."""
        self.shape = tuple(m.shape)
        self.blocks: list[tuple[int, int, int, int, torch.Tensor, torch.Tensor]] = []
        if block <= 0:
            self.blocks.append((0, m.shape[0], 0, m.shape[1], m.contiguous(), m.T.contiguous()))
            return
        for r0 in range(0, m.shape[0], block):
            r1 = min(r0 + block, m.shape[0])
            cols = torch.nonzero(m[r0:r1].abs().sum(0)).flatten()
            c0, c1 = (int(cols[0]), int(cols[-1]) + 1) if len(cols) else (0, 1)
            sub = m[r0:r1, c0:c1].contiguous()
            self.blocks.append((r0, r1, c0, c1, sub, sub.T.contiguous()))

    def left(self, x: torch.Tensor) -> torch.Tensor:
        out = x.new_empty(*x.shape[:-2], self.shape[0], x.shape[-1])
        for r0, r1, c0, c1, sub, _ in self.blocks:
            out[..., r0:r1, :] = sub @ x[..., c0:c1, :]
        return out

    def right(self, x: torch.Tensor) -> torch.Tensor:
        out = x.new_empty(*x.shape[:-1], self.shape[0])
        for r0, r1, c0, c1, _, sub_t in self.blocks:
            out[..., r0:r1] = x[..., c0:c1] @ sub_t
        return out


class ConsistencyLayer(nn.Module):
    """Project SR onto ``{SR : degrade(SR) = LR}`` (float32 inside, or float64 if ``exact``).

    ``enabled = False`` (see :func:`projection_off`) passes SR through: ONNX export writes the
    network without the projection (its matrices depend on the tile size) and the ONNX backend
    applies it after the graph, from the sensor parameters stored in the file's metadata.
    """

    # (D D^T)^-1 decays exponentially: at 16 LR px its weight is < 1e-5 (MTF 0.3) and
    # ~1e-4 (MTF 0.2) of the centre, so 16 LR px of tile margin reproduce the whole-image result.
    lr_radius = 16

    def __init__(self, scale: int, mtf_nyquist: float = 0.3, exact: bool = False) -> None:
        super().__init__()
        self.sensor = SensorModel(scale=scale, mtf_nyquist=mtf_nyquist)
        self.exact = exact
        self.enabled = True
        self._mats: dict[tuple[int, str, torch.dtype], tuple[BandedMatrix, BandedMatrix]] = {}

    def _pair(self, n_lr: int, like: torch.Tensor) -> tuple[BandedMatrix, BandedMatrix]:
        key = (n_lr, str(like.device), like.dtype)
        if key not in self._mats:
            a = torch.as_tensor(self.sensor.matrix(n_lr), dtype=like.dtype, device=like.device)
            b = torch.as_tensor(self.sensor.projector(n_lr), dtype=like.dtype, device=like.device)
            block = 32 if like.device.type == "cpu" else 0
            self._mats[key] = (BandedMatrix(a, block), BandedMatrix(b, block))
        return self._mats[key]

    def forward(self, sr: torch.Tensor, lr: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return sr
        dt = torch.float64 if self.exact and sr.device.type != "mps" else torch.float32
        with torch.autocast(device_type=sr.device.type, enabled=False):
            y, x = sr.to(dt), lr.to(dt)
            a_h, b_h = self._pair(x.shape[-2], y)
            a_w, b_w = self._pair(x.shape[-1], y)
            out = y + b_w.right(b_h.left(x - a_w.right(a_h.left(y))))
        return out.to(torch.float32)


def find_projection(module: nn.Module) -> ConsistencyLayer | None:
    """The model's consistency layer (a generator has at most one at its output), or None."""
    layers = [m for m in module.modules() if isinstance(m, ConsistencyLayer)]
    return layers[-1] if layers else None


@contextmanager
def projection_off(module: nn.Module) -> Iterator[ConsistencyLayer | None]:
    """Run ``module`` without its output projection inside the block; yields the layer (or None)."""
    layer = find_projection(module)
    if layer is None:
        yield None
        return
    layer.enabled = False
    try:
        yield layer
    finally:
        layer.enabled = True
