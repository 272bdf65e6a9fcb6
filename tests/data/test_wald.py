"""``s2sr degrade``: a Wald pair equal to degrading the whole image at once."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from s2sr.data.wald import degrade_image
from s2sr.grid import Grid, fine_grid
from s2sr.sensor import SensorModel


@pytest.mark.parametrize("crs", ["EPSG:32633", None])
def test_degrade_writes_a_wald_pair_equal_to_whole_image_degradation(make_raster, tmp_path, crs) -> None:
    img = make_raster("img.tif", shape=(4, 103, 98), seed=3, crs=crs, nodata=None,
                      descriptions=("B2", "B3", "B4", "B8"))
    pair = degrade_image(img, tmp_path / "pair", 4, mtf=0.3, strip=5, progress=False)
    with rasterio.open(img) as src, rasterio.open(pair.hr) as hr, rasterio.open(pair.lr) as lr:
        assert (hr.width, hr.height) == (96, 100) and (lr.width, lr.height) == (24, 25)
        np.testing.assert_array_equal(hr.read(), src.read()[:, :100, :96])
        assert hr.transform == src.transform and hr.crs == src.crs and lr.crs == src.crs
        assert fine_grid(Grid(lr.transform, lr.width, lr.height), 4) == Grid(hr.transform, 96, 100)
        expected = SensorModel(4, 0.3).degrade(src.read()[:, :100, :96].astype(np.float64))
        got = lr.read().astype(np.float64)
        assert lr.dtypes[0] == "uint16" and lr.descriptions == ("B2", "B3", "B4", "B8")
    assert np.max(np.abs(got - expected)) <= 0.5 + 1e-3  # only uint16 rounding


def test_degrade_never_turns_a_valid_pixel_into_nodata(make_raster, tmp_path) -> None:
    rows, cols = np.indices((16, 16))
    data = np.where((rows + cols) % 2, 4, 6).astype(np.uint16)[None]  # valid checkerboard of 4 and 6 ...
    img = make_raster("img.tif", data=data, nodata=5)  # ... whose blurred mean, 5, is the nodata value
    pair = degrade_image(img, tmp_path / "pair", 4, progress=False)
    with rasterio.open(pair.lr) as lr:
        out = lr.read(1)
    assert lr.nodata == 5 and (out == 6).all()  # rounded to 5 = nodata, every pixel is nudged to 6 (as apply does)


def test_lr_pixels_whose_blur_reaches_nodata_are_nodata(make_raster, tmp_path) -> None:
    data = np.zeros((1, 16, 16), np.uint16)  # nodata 0 everywhere ...
    data[:, 4:8, 4:8] = 1  # ... but one LR pixel's 4 x 4 children: valid, yet its blur averages in nodata zeros
    img = make_raster("img.tif", data=data, nodata=0)
    pair = degrade_image(img, tmp_path / "pair", 4, progress=False)
    with rasterio.open(pair.lr) as lr:
        out = lr.read(1)
    assert lr.nodata == 0 and (out == 0).all()  # a value made from nodata pixels is not data
