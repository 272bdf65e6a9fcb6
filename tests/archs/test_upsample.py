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


def test_residual_model_exports_to_onnx_and_matches_torch(bundle_factory, make_raster, tmp_path) -> None:
    """The transposed-conv base is for torch; the ONNX graph gets ``Resize`` (the exporter needs static
    shapes for a transposed convolution), and both give the same SR."""
    import numpy as np
    import rasterio

    from s2sr.infer.apply import ApplyConfig, apply_model
    from s2sr.infer.export import export_onnx

    bundle = bundle_factory(arch="light")
    torch.manual_seed(0)
    with torch.no_grad():
        for p in bundle.module.parameters():
            p.normal_(0, 0.05)
    onnx_path = export_onnx(bundle, tmp_path / "light.onnx")
    src = make_raster(shape=(4, 33, 29), nodata=None)
    a, b = tmp_path / "torch.tif", tmp_path / "onnx.tif"
    opts = dict(tile=16, overlap=4, out_dtype="float32", progress=False)
    apply_model(bundle, src, a, ApplyConfig(**opts))
    apply_model(onnx_path, src, b, ApplyConfig(backend="onnx", **opts))
    with rasterio.open(a) as da, rasterio.open(b) as db:
        ya, yb = da.read().astype(np.float64), db.read().astype(np.float64)
    assert np.abs(ya).max() > 500 and np.abs(ya - yb).max() < 1e-2


def test_kernels_cached_under_inference_mode_still_train() -> None:
    """The first call may come from a model check under ``torch.inference_mode`` (a bundle loaded to
    fine-tune from): the cached kernels must still work in autograd afterwards."""
    import torch

    from s2sr.archs.common import _impulse, upsample

    _impulse.cache_clear()
    with torch.inference_mode():
        upsample(torch.ones(1, 3, 5, 5), 4, "bicubic")
    x = torch.ones(1, 3, 5, 5, requires_grad=True)
    upsample(x, 4, "bicubic").sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
