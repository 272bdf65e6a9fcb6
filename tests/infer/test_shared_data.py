"""apply on the real Sentinel-2 samples (skipped without S2SR_SHARED_DATA)."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from affine import Affine

from s2sr.infer.apply import ApplyConfig, apply_model
from s2sr.io.cog import cog_problems


@pytest.mark.shared_data
def test_eolearn_scene_georeferenced(shared_data, bicubic_pt, tmp_path):
    src = shared_data / "eolearn" / "TestEOPatch_20150711_10m.tif"
    if not src.exists():
        pytest.skip(f"{src} not found")
    out = tmp_path / "sr.tif"
    apply_model(bicubic_pt, src, out, ApplyConfig(tile=32, overlap=8, progress=False))
    with rasterio.open(src) as s, rasterio.open(out) as d:
        assert d.crs == s.crs and (d.width, d.height) == (s.width * 4, s.height * 4)
        assert d.bounds == pytest.approx(s.bounds, abs=1e-6)
        t = s.transform
        assert d.transform.almost_equals(Affine(t.a / 4, 0, t.c, 0, t.e / 4, t.f))
        lr, sr = s.read().astype(float), d.read().astype(float)
    assert cog_problems(out) == []
    # block means of the bicubic output stay close to the LR pixels (same units, no offset)
    means = sr.reshape(4, s.height, 4, s.width, 4).mean(axis=(2, 4))
    assert np.abs(means - lr).mean() < 0.05 * lr.mean()


@pytest.mark.shared_data
@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_dsen2_scene_without_crs_window(shared_data, bicubic_pt, tmp_path):
    src = shared_data / "dsen2" / "S2A_MSIL1C_20170527_T33UUB_10m.tif"
    if not src.exists():
        pytest.skip(f"{src} not found")
    out = tmp_path / "sr.tif"
    apply_model(bicubic_pt, src, out, ApplyConfig(window=(100, 200, 48, 40), tile=24, overlap=8, progress=False))
    with rasterio.open(src) as s, rasterio.open(out) as d:
        assert d.crs is None and (d.width, d.height) == (192, 160)
        assert d.transform == Affine(s.transform.a / 4, 0, 100.0, 0, s.transform.e / 4, 200.0)
        assert d.descriptions == ("B2", "B3", "B4", "B8")
