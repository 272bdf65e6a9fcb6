"""``s2sr.archs.common.upsample``: F.interpolate's bilinear / bicubic (align_corners=False) as
transposed convolutions, at every scale, edge and memory layout, in float32 under autocast."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from s2sr.archs.common import OutputHead, upsample


@pytest.mark.parametrize("mode", ["bicubic", "bilinear"])
@pytest.mark.parametrize("scale", [2, 3, 4, 8])
@pytest.mark.parametrize("channels_last", [False, True])
def test_upsample_equals_interpolate(mode: str, scale: int, channels_last: bool) -> None:
    g = torch.Generator().manual_seed(scale)
    x = torch.randn(2, 3, 13, 21, generator=g) * 5
    ref = F.interpolate(x, scale_factor=scale, mode=mode, align_corners=False)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    out = upsample(x, scale, mode)
    assert out.shape == ref.shape and out.dtype == torch.float32
    assert float((out - ref).abs().max()) < 1e-4  # float32 rounding of the weights (2e-5 at x3)


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (2, 2)])
def test_upsample_tiny_inputs_replicate_the_edges(shape: tuple[int, int]) -> None:
    x = torch.arange(float(shape[0] * shape[1])).view(1, 1, *shape)
    ref = F.interpolate(x, scale_factor=4, mode="bicubic", align_corners=False)
    assert torch.allclose(upsample(x, 4, "bicubic"), ref, atol=1e-5)


def test_upsample_stays_float32_under_autocast() -> None:
    x = torch.randn(1, 4, 16, 16) * 3
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = upsample(x, 4, "bicubic")
    assert out.dtype == torch.float32
    assert float((out - F.interpolate(x, scale_factor=4, mode="bicubic", align_corners=False)).abs().max()) < 1e-5


def test_residual_head_adds_the_base_in_float32_under_bf16() -> None:
    """A bf16 network output plus the bicubic base: the sum is float32, so the base keeps its value
    (a bf16 sum rounded a base of ~4 std to steps of 0.03)."""
    head = OutputHead(4, residual=True, consistency=False, mtf_nyquist=0.3)
    x = torch.full((1, 1, 4, 4), 4.01)
    y = torch.zeros(1, 1, 16, 16, dtype=torch.bfloat16)
    out = head(x, y)
    assert out.dtype == torch.float32 and torch.allclose(out, torch.full_like(out, 4.01), atol=1e-5)
