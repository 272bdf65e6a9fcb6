"""EquiFine: equivariant to per-band gain and offset, no fixed LR-grid pattern by construction (unlike a
pixel shuffle), the low band of the input kept, no exact inversion."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from s2sr.archs import build_arch
from s2sr.archs.lowpass import LowPassConsistency, gaussian_taps, separable_blur
from s2sr.evaluate.realstats import grid_peak

from ..conftest import textured_scene


def _scene(n: int = 96, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 4, n, n, generator=g).cumsum(2).cumsum(3)
    x = (x - x.mean()) / x.std()
    return 1500 + 400 * x + 60 * torch.randn(1, 4, n, n, generator=g)


def _loud(name: str, **kw: object) -> torch.nn.Module:
    """Random weights, the last layer 10x its init (as if trained to add strong detail)."""
    torch.manual_seed(0)
    m = build_arch(name, in_ch=4, scale=4, **kw).eval()
    last = m.fine2 if name == "equifine" else m.tail
    with torch.no_grad():
        last.weight.mul_(10)
    return m


def test_equivariant_to_gain_and_offset() -> None:
    m = _loud("equifine")
    x = _scene()
    with torch.no_grad():
        y, y2 = m(x), m(2.5 * x + 300)
    assert torch.allclose(y2, 2.5 * y + 300, atol=1e-3 * float(y.abs().max()))


def test_no_lr_grid_pattern_where_a_pixel_shuffle_paints_one() -> None:
    x = torch.from_numpy(textured_scene(160, 1).astype(np.float32))[None]
    with torch.no_grad():
        fine = _loud("equifine")(x)[0].numpy()
        shuffle = _loud("equisr", consistency=False)(x)[0].numpy()
        const = _loud("equifine")(torch.full((1, 4, 48, 48), 1234.0))
    assert max(grid_peak(b, 4) for b in fine) < 5  # real 2.5 m images read 1.2-6.3
    assert min(grid_peak(b, 4) for b in shuffle) > 1000
    assert torch.allclose(const, torch.full_like(const, 1234.0), atol=1e-2)


def test_lowpass_layer_keeps_the_input_low_band_and_is_linear() -> None:
    layer = LowPassConsistency(4, sigma_lr=1.0, mtf_nyquist=0.39, iters=2)
    x = _scene(64)
    y = torch.nn.functional.interpolate(x, scale_factor=4, mode="nearest") + 200 * torch.randn(1, 4, 256, 256)
    out = layer(y, x)
    low = gaussian_taps(2.0)  # the lowest frequencies, where the layer's L passes almost everything
    err_before = separable_blur(layer.degrade(y) - x, low)[..., 8:-8, 8:-8].abs().mean()
    err_after = separable_blur(layer.degrade(out) - x, low)[..., 8:-8, 8:-8].abs().mean()
    assert float(err_after) < 0.1 * float(err_before)
    # the band near the LR Nyquist is left alone: the correction is smooth (no division by a small transfer)
    corr = (out - y)[0, 0].numpy()
    assert np.abs(np.diff(corr, axis=1)).mean() < 0.05 * np.abs(np.diff(y[0, 0].numpy(), axis=1)).mean()
    a, b = layer(2 * y, 2 * x), 2 * out
    assert torch.allclose(a, b, atol=1e-2)


def test_receptive_field_covers_the_tile_margin() -> None:
    m = _loud("equifine")
    x = _scene(128)
    r = m.receptive_field
    with torch.no_grad():
        whole = m(x)
        part = m(x[..., :64 + r, :64 + r])
    assert torch.allclose(whole[..., :256, :256][..., :200, :200], part[..., :200, :200], atol=0.05)


def test_bad_kwargs_are_refused() -> None:
    with pytest.raises(ValueError, match="EquiFine: need"):
        build_arch("equifine", in_ch=4, scale=4, fine_width=0)


def test_onnx_export_matches_torch_within_one_dn(tmp_path) -> None:
    import onnxruntime as ort

    from s2sr.infer.export import export_onnx

    from ..conftest import S2_STATS, make_bundle

    b = make_bundle("equifine", input_stats=S2_STATS, width=16, blocks=2, fine_width=8)
    with torch.no_grad():
        b.module.fine2.weight.mul_(10)
    path = export_onnx(b, tmp_path / "ef.onnx")
    x = (textured_scene(48, 2).astype(np.float32)[None] - 1500) / 700
    y = ort.InferenceSession(str(path)).run(None, {"lr": x})[0] * 700 + 1500
    with torch.no_grad():
        t = b.module(torch.from_numpy(x)).numpy() * 700 + 1500
    assert np.abs(y - t).max() < 1.0 and np.abs(t - t.mean()).max() > 100
