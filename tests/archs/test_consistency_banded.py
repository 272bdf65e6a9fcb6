"""The banded products of the consistency layer equal the dense ones (values and gradients)."""

from __future__ import annotations

import pytest
import torch

from s2sr.archs.consistency import BandedMatrix, ConsistencyLayer


@pytest.mark.parametrize("hw", [(1, 1), (5, 3), (37, 101), (130, 70)])
def test_banded_projection_equals_the_dense_one(hw: tuple[int, int]) -> None:
    h, w = hw
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, h, w, generator=g, dtype=torch.float64)
    y = torch.rand(2, 3, 4 * h, 4 * w, generator=g, dtype=torch.float64, requires_grad=True)
    layer = ConsistencyLayer(4, 0.3)
    s = layer.sensor
    a_h, a_w = torch.tensor(s.matrix(h)), torch.tensor(s.matrix(w))
    b_h, b_w = torch.tensor(s.projector(h)), torch.tensor(s.projector(w))
    dense = y + b_h @ (x - a_h @ y @ a_w.T) @ b_w.T
    with torch.autocast("cpu", enabled=False):
        out = ConsistencyLayer(4, 0.3, exact=True)(y, x).double()
    torch.testing.assert_close(out, dense, atol=1e-6, rtol=0)  # float32 output of a float64 computation
    g1, = torch.autograd.grad(out.square().sum(), y)
    g2, = torch.autograd.grad(dense.square().sum(), y)
    torch.testing.assert_close(g1, g2, atol=1e-5, rtol=0)
    # degrade(out) == LR (hard consistency)
    torch.testing.assert_close(a_h @ out.detach() @ a_w.T, x, atol=1e-6, rtol=0)


def test_banded_matrix_skips_zero_blocks_and_dense_mode_is_one_block() -> None:
    m = torch.zeros(64, 100)
    m[:32, 10:20] = 1.0
    m[32:, 50:60] = 2.0
    b = BandedMatrix(m, 32)
    assert [(r0, r1, c0, c1) for r0, r1, c0, c1, *_ in b.blocks] == [(0, 32, 10, 20), (32, 64, 50, 60)]
    x = torch.rand(2, 100, 7)
    torch.testing.assert_close(b.left(x), m @ x)
    torch.testing.assert_close(b.right(x.transpose(-1, -2)), x.transpose(-1, -2) @ m.T)
    assert len(BandedMatrix(m, 0).blocks) == 1
