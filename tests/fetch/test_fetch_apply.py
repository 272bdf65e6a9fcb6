"""From a place and a date to a super-resolved COG in two commands, on the local catalog."""

from __future__ import annotations

import time

import numpy as np
import rasterio
from rasterio.enums import ColorInterp
from rasterio.warp import transform_bounds

from s2sr.cli.main import main
from s2sr.io.cog import cog_problems


def test_fetch_then_apply_gives_an_sr_cog_with_the_item_in_its_tags(stac_site, bicubic_pt, tmp_path, capsys):
    w, s, e, n = transform_bounds("EPSG:32631", "EPSG:4326", 401000.0, 4995000.0, 402280.0, 4996280.0)
    s2, sr = tmp_path / "s2.tif", tmp_path / "sr.tif"
    t0 = time.perf_counter()
    assert main(["-q", "fetch", str(s2), "--stac", stac_site.catalog, "--bbox", f"{w},{s},{e},{n}",
                 "--datetime", "2023-06-01/2023-06-30", "--max-cloud", "20"]) == 0
    assert main(["-q", "apply", str(bicubic_pt), str(s2), str(sr)]) == 0
    seconds = time.perf_counter() - t0
    print(f"fetch + apply on the local catalog: {seconds:.1f} s")  # reported; the target (< 30 s) is not asserted
    with rasterio.open(s2) as a, rasterio.open(sr) as b:
        assert b.crs == a.crs and b.res == (2.5, 2.5) and b.bounds == a.bounds
        assert (b.width, b.height) == (4 * a.width, 4 * a.height) and b.count == 4 and b.dtypes[0] == "uint16"
        tags = b.tags()
        assert tags["STAC_ITEM"] == "S2B_31TCJ_20230610_0_L2A" and tags["CLOUD_COVER"] == "3.5"
        assert tags["S2SR_MODEL"] == "bicubic" and tags["S2SR_INPUT"] == "s2.tif"
        assert list(b.colorinterp) == [ColorInterp.blue, ColorInterp.green, ColorInterp.red, ColorInterp.undefined]
        lr = a.read(out_dtype="float64")
        hr = b.read(out_dtype="float64")
        # bicubic x4 keeps the local means: 4x4 block means of the SR follow the fetched pixels
        means = hr.reshape(4, a.height, 4, a.width, 4).mean(axis=(2, 4))
        inner = (slice(None), slice(2, -2), slice(2, -2))
        assert np.abs(means[inner] - lr[inner]).mean() < 0.05 * lr[inner].mean()
    assert cog_problems(sr) == []
