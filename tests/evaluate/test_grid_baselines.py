"""Georeferencing: baselines, model output and reference all on the LR's fine grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.windows import Window

from s2sr.bundle import load_model
from s2sr.evaluate.baselines import resample
from s2sr.evaluate.scene import Scene
from s2sr.evaluate.score import MODEL, read_scene_tile
from s2sr.evaluate.sr import super_resolve
from s2sr.grid import Grid, fine_grid


def _ramp_lr(make_raster, w: int = 24, h: int = 20) -> Path:
    x = 1000 + 50 * np.arange(w, dtype=np.float64)  # value = 1000 + 50 * (LR column index)
    data = np.broadcast_to(x, (4, h, w)).astype("uint16")
    return make_raster("lr.tif", data=data, res=10.0, nodata=None)


def test_gdal_bicubic_baseline_matches_analytic_ramp_on_fine_grid(make_raster) -> None:
    lr_path = _ramp_lr(make_raster)
    with rasterio.open(lr_path) as ds:
        lr = ds.read().astype(np.float32)
        fg = fine_grid(Grid(ds.transform, ds.width, ds.height), 4)
        out = resample(lr, ds.transform, fg.transform, (fg.height, fg.width), "bicubic", ds.crs)
    cols = np.arange(fg.width)
    expected = 1000 + 50 * ((cols + 0.5) / 4 - 0.5)  # LR value at each fine pixel centre
    interior = slice(8, fg.width - 8)
    np.testing.assert_allclose(out[0, 10, interior], expected[interior], atol=1e-2)
    # a window with margin gives the same pixels as the whole image
    sub = resample(lr[:, 2:12, 3:15], ds.transform @ Affine.translation(3, 2),
                   fg.transform @ Affine.translation(28, 24), (16, 16), "lanczos", ds.crs)
    whole = resample(lr, ds.transform, fg.transform, (fg.height, fg.width), "lanczos", ds.crs)
    np.testing.assert_allclose(sub, whole[:, 24:40, 28:44], atol=1e-3)


def test_model_output_and_baselines_share_the_fine_grid(make_raster, bicubic_model, tmp_path) -> None:
    lr_path = _ramp_lr(make_raster)
    hr_data = np.zeros((4, 80, 96), "uint16") + 1234
    hr_path = make_raster("hr.tif", data=hr_data, res=2.5, nodata=None)
    bundle = load_model(bicubic_model(4))
    sr = super_resolve(bundle, lr_path, tmp_path / "sr.tif", [1, 2, 3, 4])
    with rasterio.open(sr) as s, rasterio.open(lr_path) as lo:
        fg = fine_grid(Grid(lo.transform, lo.width, lo.height), 4)
        assert s.transform.almost_equals(fg.transform) and (s.width, s.height) == (96, 80)
        assert s.crs == lo.crs
    scene = Scene(lr_path, hr_path, 4, [1, 2, 3, 4], [1, 2, 3, 4])
    try:
        scene.open_sr(sr)
        _, _, ref, ok, preds = read_scene_tile(scene, Window(16, 16, 48, 48))
    finally:
        scene.close()
    assert ok.all() and np.all(ref == 1234)
    cols = 16 + np.arange(48)
    expected = 1000 + 50 * ((cols + 0.5) / 4 - 0.5)
    # GDAL bicubic is exact on a ramp; the torch model is within its kernel's ramp error,
    # a half-pixel shift of either would be off by 6+ units everywhere
    np.testing.assert_allclose(preds["bicubic"][0, 5], expected, atol=1e-2)
    np.testing.assert_allclose(preds[MODEL][0, 5], expected, atol=4.0)
    assert np.mean(np.abs(preds[MODEL][0, 5] - expected)) < 2.0


def test_hr_is_warped_onto_the_fine_grid(make_raster) -> None:
    lr_path = make_raster("lr.tif", shape=(4, 8, 8), res=10.0, nodata=None)
    # HR at 1.25 m (x2 finer than the x4 fine grid), larger extent, offset by 5 m
    rng = np.random.default_rng(1)
    hr = rng.integers(500, 3000, size=(4, 80, 80)).astype("uint16")
    hr_path = make_raster("hr.tif", data=hr, res=1.25, origin=(500000.0 - 5.0, 4600000.0 + 5.0), nodata=None)
    scene = Scene(lr_path, hr_path, 4, [1, 2, 3, 4], [1, 2, 3, 4])
    try:
        ref, ok = scene.read_ref(Window(0, 0, 32, 32))
    finally:
        scene.close()
    assert ok.all()
    # fine pixel (0, 0) covers HR pixels rows/cols 4..5 (offset 5 m = 4 HR px): average of 2x2
    expected = hr[:, 4:68, 4:68].reshape(4, 32, 2, 32, 2).mean(axis=(2, 4))
    np.testing.assert_allclose(ref, expected, atol=0.51)


def test_crs_on_one_side_only_is_a_clear_error(make_raster) -> None:
    from s2sr.errors import InputError

    lr_path = make_raster("lr.tif", shape=(4, 8, 8), res=10.0)
    hr_path = make_raster("hr.tif", shape=(4, 32, 32), crs=None, res=2.5)
    with pytest.raises(InputError) as e:
        Scene(lr_path, hr_path, 4, [1, 2, 3, 4], [1, 2, 3, 4])
    assert str(e.value) == f"{hr_path}: has no CRS but {lr_path} has EPSG:32631; assign one (gdal_edit.py -a_srs EPSG:XXXX)"


def test_reference_gets_prepare_shift_and_gains(make_raster, tmp_path) -> None:
    from s2sr.data.dataset import open_dataset
    from s2sr.data.manifest import (
        HarmonisationReport,
        Manifest,
        PairRecord,
        ShiftReport,
        write_manifest,
    )

    lr_path = make_raster("lr.tif", shape=(4, 8, 8), res=10.0, nodata=None)
    hr = np.random.default_rng(2).integers(500, 3000, size=(4, 32, 32)).astype("uint16")
    hr_path = make_raster("hr.tif", data=hr, res=2.5, nodata=None)
    prep = tmp_path / "ds"
    prep.mkdir()
    write_manifest(prep, Manifest(scale=4, patch_size=8, bands=["B2", "B3", "B4", "B8"], pairs=[PairRecord(
        lr=str(lr_path), hr=str(hr_path), shift_lr_px=ShiftReport(dx=1.0, dy=0.0, applied=True),
        harmonisation=HarmonisationReport(gains=[2.0, 1.0, 1.0, 0.5], offsets=[10.0, 0.0, 0.0, -5.0], applied=True),
    )]))
    align = open_dataset(prep).alignment(lr_path)
    assert (align.dx, align.dy, align.gains) == (1.0, 0.0, [2.0, 1.0, 1.0, 0.5])
    scene = Scene(lr_path, hr_path, 4, [1, 2, 3, 4], [1, 2, 3, 4], align)
    try:
        ref, ok = scene.read_ref(Window(0, 0, 32, 32))
    finally:
        scene.close()
    # LR content sits 1 LR px (4 fine px) east of the HR: fine column j shows HR column j - 4
    assert ok[:, 4:].all() and not ok[:, :4].any()
    g = np.array([2.0, 1.0, 1.0, 0.5]).reshape(4, 1, 1)
    o = np.array([10.0, 0.0, 0.0, -5.0]).reshape(4, 1, 1)
    np.testing.assert_allclose(ref[:, :, 4:], hr[:, :, :-4] * g + o, rtol=1e-6)
    assert open_dataset(prep).alignment(tmp_path / "other.tif").gains is None  # another pair: untouched
