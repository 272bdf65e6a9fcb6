"""apply_model end to end on seeded rasters: grid, values, seams, nodata, COG, options."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
import torch.nn.functional as F
from affine import Affine

from s2sr.infer.apply import ApplyConfig, apply_model
from s2sr.io.cog import cog_problems

QUIET = dict(progress=False)


def _bicubic(a: np.ndarray, pad: int = 0, mode: str = "reflect") -> np.ndarray:
    x = torch.from_numpy(a.astype(np.float32))[None]
    if pad:
        x = F.pad(x, (pad,) * 4, mode=mode)
    y = F.interpolate(x, scale_factor=4, mode="bicubic", align_corners=False)[0].numpy()
    return y[:, pad * 4: y.shape[1] - pad * 4, pad * 4: y.shape[2] - pad * 4] if pad else y


def _read(path: Path) -> tuple[np.ndarray, dict]:
    with rasterio.open(path) as ds:
        return ds.read(), dict(ds.profile, descriptions=ds.descriptions, tags=ds.tags())


@pytest.mark.parametrize("shape", [(4, 37, 23), (4, 5, 9), (4, 64, 64)])
def test_grid_is_input_bounds_at_quarter_pixel(make_raster, bicubic_pt, tmp_path, shape):
    src = make_raster(shape=shape, res=10.0, origin=(500123.0, 4600456.0))
    out = tmp_path / "sr.tif"
    res = apply_model(bicubic_pt, src, out, ApplyConfig(tile=16, overlap=4, **QUIET))
    _, prof = _read(out)
    with rasterio.open(src) as s, rasterio.open(out) as d:
        assert d.crs == s.crs
        assert d.transform == Affine(2.5, 0, 500123.0, 0, -2.5, 4600456.0)
        assert (d.width, d.height) == (shape[2] * 4, shape[1] * 4)
        assert d.bounds == s.bounds
        assert d.dtypes[0] == "uint16" and d.nodata == s.nodata
    assert prof["descriptions"] == ("B2", "B3", "B4", "B8")
    assert prof["tags"]["S2SR_ARCH"] == "bicubic" and prof["tags"]["S2SR_SCALE"] == "4"
    assert prof["tags"]["S2SR_MODEL"] == "bicubic" and prof["tags"]["S2SR_INPUT"] == src.name
    assert res.width == shape[2] * 4 and res.tiles_computed == res.tiles_total
    assert not list(tmp_path.glob(".sr.tif*")), "partial files must be removed"


@pytest.mark.parametrize("edge,tile,overlap", [("replicate", 16, 4), ("replicate", 8, 2), ("reflect", 13, 6)])
def test_streamed_bicubic_equals_whole_image(make_raster, bicubic_pt, tmp_path, edge, tile, overlap):
    src = make_raster(shape=(4, 41, 29), nodata=None, dtype="float32")
    with rasterio.open(src) as ds:
        a = ds.read()
    out = tmp_path / "sr.tif"
    apply_model(bicubic_pt, src, out, ApplyConfig(tile=tile, overlap=overlap, edge=edge, **QUIET))
    y, _ = _read(out)
    # replicate padding is what F.interpolate does at image borders; reflect equals bicubic of the
    # reflect-padded image. Either way the whole output, edges included, matches.
    ref = _bicubic(a) if edge == "replicate" else _bicubic(a, pad=3)
    np.testing.assert_allclose(y, ref, atol=2e-3, rtol=0)


def test_uint16_output_rounded_and_clipped(make_raster, bicubic_pt, tmp_path):
    data = np.full((4, 20, 20), 100, np.uint16)
    data[:, :, 10:] = 65000  # bicubic overshoots above 65535 and below 0 at this step
    data[:, :, :10] = 1
    src = make_raster(data=data, nodata=None)
    out = tmp_path / "sr.tif"
    apply_model(bicubic_pt, src, out, ApplyConfig(tile=8, overlap=2, **QUIET))
    y, prof = _read(out)
    ref = np.clip(np.rint(_bicubic(data.astype(np.float32), 3)), 0, 65535)
    assert prof["dtype"] == "uint16"
    assert np.abs(y.astype(np.int64) - ref).max() <= 1
    assert y.max() == 65535 and y.min() == 0


def test_tile_size_independence_with_conv_model(make_raster, tiny_conv, tmp_path):
    src = make_raster(shape=(4, 50, 45), seed=3)
    outs = []
    for tile, overlap in [(12, 4), (25, 8), (64, 16)]:
        out = tmp_path / f"sr{tile}.tif"
        apply_model(tiny_conv, src, out, ApplyConfig(tile=tile, overlap=overlap, **QUIET))
        outs.append(_read(out)[0].astype(np.int64))
    assert np.abs(outs[0] - outs[1]).max() <= 1
    assert np.abs(outs[0] - outs[2]).max() <= 1
    assert np.abs(outs[0] - _bicubic(np.zeros((4, 50, 45)))).max() > 100  # it is not a constant output


def test_output_is_valid_cog_with_overviews(make_raster, bicubic_pt, tmp_path):
    src = make_raster(shape=(4, 200, 150))
    out = tmp_path / "sr.tif"
    apply_model(bicubic_pt, src, out, ApplyConfig(tile=64, overlap=8, compress="ZSTD", **QUIET))
    assert cog_problems(out) == []
    with rasterio.open(out) as ds:
        assert ds.overviews(1) == [2]  # 800x600 -> 400x300 fits one block
        assert ds.compression.name.upper() == "ZSTD"
        assert ds.tags(ns="IMAGE_STRUCTURE")["PREDICTOR"] == "2"


def test_cog_validator_flags_plain_geotiff(make_raster):
    src = make_raster(shape=(1, 600, 600))
    probs = cog_problems(src)
    assert "no COG layout (IMAGE_STRUCTURE LAYOUT != COG)" in probs
    assert "no internal overviews although larger than one block" in probs


def test_nodata_masked_and_filled(make_raster, bicubic_pt, tmp_path):
    data = np.full((4, 40, 40), 1000, np.uint16)
    data[:, :, 20:] = 3000
    data[:, 5:9, 5:9] = 0  # a nodata hole
    data[:, 24:, :] = 0  # nodata bottom part: tiles below are entirely nodata
    src = make_raster(data=data, nodata=0)
    out = tmp_path / "sr.tif"
    res = apply_model(bicubic_pt, src, out, ApplyConfig(tile=8, overlap=2, **QUIET))
    y, prof = _read(out)
    assert prof["nodata"] == 0
    lr_valid = (data != 0).all(axis=0)
    fine_valid = np.kron(lr_valid, np.ones((4, 4), bool))
    assert ((y == 0).all(axis=0) == ~fine_valid).all()  # nodata exactly where the LR parent is nodata
    assert res.tiles_skipped_nodata >= 5
    # the hole was filled from its valid neighbours (1000), not zeros: its neighbours stay near 1000
    ring = y[:, 4 * 3:4 * 4, 4 * 3:4 * 11]
    assert abs(float(ring.mean()) - 1000) < 15


def test_valid_pixels_never_become_nodata(make_raster, bicubic_pt, tmp_path):
    data = np.full((4, 12, 12), 1, np.uint16)
    data[:, :, 6:] = 5000  # bicubic undershoots below 1 -> clipped to 0 -> must be nudged to 1
    src = make_raster(data=data, nodata=0)
    out = tmp_path / "sr.tif"
    apply_model(bicubic_pt, src, out, ApplyConfig(tile=8, overlap=2, **QUIET))
    y, _ = _read(out)
    assert y.min() == 1


def test_float32_output_and_window(make_raster, bicubic_pt, tmp_path):
    src = make_raster(shape=(4, 30, 40), nodata=None)
    with rasterio.open(src) as ds:
        a = ds.read().astype(np.float32)
        left, top = ds.transform.c + 7 * 10.0, ds.transform.f - 5 * 10.0
    out = tmp_path / "sr.tif"
    apply_model(bicubic_pt, src, out, ApplyConfig(tile=8, overlap=2, window=(7, 5, 17, 11),
                                                  out_dtype="float32", edge="replicate", **QUIET))
    y, prof = _read(out)
    assert prof["dtype"] == "float32" and y.shape == (4, 44, 68)
    assert prof["transform"] == Affine(2.5, 0, left, 0, -2.5, top)
    # inside the scene, margins use real neighbouring pixels: the window equals the whole-scene result
    ref = _bicubic(a)[:, 20:64, 28:96]
    np.testing.assert_allclose(y, ref, atol=2e-3, rtol=0)


def test_bbox_is_snapped_outward_to_pixels(make_raster, bicubic_pt, tmp_path):
    src = make_raster(shape=(4, 30, 40), origin=(500000.0, 4600000.0))
    out = tmp_path / "sr.tif"
    apply_model(bicubic_pt, src, out, ApplyConfig(bbox=(500071.0, 4599801.0, 500139.0, 4599911.0), **QUIET))
    with rasterio.open(out) as ds:
        assert ds.bounds == (500070.0, 4599800.0, 500140.0, 4599920.0)
        assert (ds.width, ds.height) == (28, 48)


def test_bbox_on_pixel_grid_without_crs(make_raster, bicubic_pt, tmp_path):
    """A file without georeference (like the DSen2 samples) reads as the identity grid, rows going *down* in y:
    --bbox is then in pixel units (rasterio's from_bounds refused it with a traceback)."""
    src = make_raster(shape=(4, 30, 40), crs=None, transform=Affine.identity(), nodata=None)
    with rasterio.open(src) as ds:
        assert ds.transform == Affine.identity()
    out = tmp_path / "sr.tif"
    apply_model(bicubic_pt, src, out, ApplyConfig(bbox=(10.5, 4.0, 20.0, 12.2), **QUIET))
    with rasterio.open(out) as ds:
        assert ds.tags()["S2SR_WINDOW"] == "10,4,10,9"
        assert ds.transform == Affine(0.25, 0, 10, 0, 0.25, 4)
        assert (ds.width, ds.height) == (40, 36)


def test_bf16_close_to_fp32(make_raster, tiny_conv, tmp_path):
    src = make_raster(shape=(4, 24, 24))
    a, b = tmp_path / "a.tif", tmp_path / "b.tif"
    apply_model(tiny_conv, src, a, ApplyConfig(tile=12, overlap=4, **QUIET))
    apply_model(tiny_conv, src, b, ApplyConfig(tile=12, overlap=4, precision="bf16", **QUIET))
    ya, yb = _read(a)[0].astype(float), _read(b)[0].astype(float)
    assert 0 < np.abs(ya - yb).max() < 0.02 * ya.max()


def test_blending_hides_seams_when_margin_is_below_receptive_field(make_raster, tiny_conv, tmp_path, caplog):
    src = make_raster(shape=(4, 48, 48), seed=7, nodata=None)
    ref, hard, soft = tmp_path / "ref.tif", tmp_path / "hard.tif", tmp_path / "soft.tif"
    f32 = dict(out_dtype="float32", progress=False)
    apply_model(tiny_conv, src, ref, ApplyConfig(tile=64, overlap=0, **f32))  # one tile: no seams at all
    with caplog.at_level(logging.WARNING, logger="s2sr.infer"):
        apply_model(tiny_conv, src, hard, ApplyConfig(tile=12, overlap=0, margin=0, **f32))
        apply_model(tiny_conv, src, soft, ApplyConfig(tile=12, overlap=6, margin=0, **f32))
    assert "--margin 0 is below the receptive field of tinyconv (5 LR pixels)" in caplog.text
    r, h, s = (_read(p)[0] for p in (ref, hard, soft))
    err_hard, err_soft = np.abs(h - r).max(), np.abs(s - r).max()
    assert err_hard > 20 and err_soft < 0.2 * err_hard  # measured: 115 vs 5.3
