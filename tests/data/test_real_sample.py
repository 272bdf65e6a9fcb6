"""prepare on a real 1 m NAIP image as HR, with a 10 m LR made from it by the sensor model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.warp import Resampling, reproject

from s2sr.data.config import PrepareConfig
from s2sr.data.prepare import prepare
from s2sr.data.store import open_split
from s2sr.sensor import SensorModel
from s2sr.synth import degrade_shifted

NAIP = "aerial/naip_m_3607717_sw_18_20160620_subset_1m.tif"
SHIFT = (0.3, -0.2)  # LR px, LR relative to HR
GAIN, OFFSET = 12.0, 150.0


@pytest.mark.shared_data
def test_prepare_naip_pair(shared_data, tmp_path):
    hr_path = shared_data / NAIP
    if not hr_path.is_file():
        pytest.skip(f"{hr_path} not found")
    with rasterio.open(hr_path) as src:
        fine_t = Affine(2.5, 0, src.bounds.left, 0, -2.5, src.bounds.top)
        fine = np.zeros((4, 120, 120), np.float32)
        # NAIP is R,G,B,NIR; the LR is B2,B3,B4,B8 (blue first)
        for i, b in enumerate((3, 2, 1, 4)):
            reproject(rasterio.band(src, b), fine[i], dst_transform=fine_t, dst_crs=src.crs,
                      resampling=Resampling.average)
        crs = src.crs
    s = SensorModel(4)
    lr = degrade_shifted(fine, s, SHIFT[0] * 4, SHIFT[1] * 4) * GAIN + OFFSET
    lr_path = tmp_path / "lr.tif"
    with rasterio.open(lr_path, "w", driver="GTiff", width=30, height=30, count=4, dtype="uint16", crs=crs,
                       transform=Affine(10, 0, fine_t.c, 0, -10, fine_t.f), nodata=0) as ds:
        ds.write(np.clip(np.rint(lr), 1, 65535).astype("uint16"))
    res = prepare(PrepareConfig(pairs=[(lr_path, hr_path)], scale=4, patch_size=8, out=tmp_path / "ds",
                                hr_bands=[3, 2, 1, 4], coregister=True, harmonise=True, split_block=14,
                                min_std=0))
    meta = json.loads(res.prepare_json.read_text())
    pr = meta["pairs"][0]
    assert any("1 is -60% off" in w for w in pr["warnings"])  # 1 m HR for a 2.5 m fine grid
    assert meta["pairs"][0]["hr_resampling"] == "average"
    assert abs(pr["shift_lr_px"]["dx"] - SHIFT[0]) < 0.1 and abs(pr["shift_lr_px"]["dy"] - SHIFT[1]) < 0.1
    np.testing.assert_allclose(pr["harmonisation"]["gains"], GAIN, rtol=0.03)
    assert res.counts["train"] > 0
    hr = np.asarray(open_split(res.out, "train").hr)
    assert 200 < float(np.median(hr)) < 4000  # harmonised HR in the LR units (x 10000 scale)
    fc = json.loads(res.footprint.read_text())
    lon, lat = np.asarray(fc["features"][0]["geometry"]["coordinates"][0]).mean(axis=0)
    assert lon == pytest.approx(-78.0, abs=0.01) and lat == pytest.approx(36.62, abs=0.01)
