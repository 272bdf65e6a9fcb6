"""fetch + apply on a local catalog whose assets are real Sentinel-2 samples (shared data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.warp import transform_bounds

from s2sr.cli.main import main

EOLEARN = {"S2A_33TVM_20150711_0_L1C": ("eolearn/TestEOPatch_20150711_10m.tif", "2015-07-11T10:00:08Z", 0.9),
           "S2A_33TVM_20150830_0_L1C": ("eolearn/TestEOPatch_20150830_10m.tif", "2015-08-30T10:05:47Z", 2.4)}


@pytest.mark.shared_data
def test_fetch_and_apply_real_l1c_samples(shared_data: Path, make_stac_site, bicubic_pt, tmp_path):
    """Two real dates of one Slovenian field (eo-learn, EPSG:32633, cloud cover from its CLP means)."""
    specs = []
    for item, (rel, date, cloud) in EOLEARN.items():
        path = shared_data / rel
        if not path.is_file():
            pytest.skip(f"{path} not found in the shared data")
        specs.append(dict(id=item, date=date, cloud=cloud, seed=0, collection="sentinel-2-l1c", image=path,
                          props={"s2:processing_baseline": "02.00"}))
    site = make_stac_site(specs)
    src = shared_data / EOLEARN["S2A_33TVM_20150711_0_L1C"][0]
    with rasterio.open(src) as ds:
        t, full = ds.transform, ds.read()
        box = (t.c + 20 * t.a, t.f + 80 * t.e, t.c + 70 * t.a, t.f + 30 * t.e)  # cols 20..70, rows 30..80
        w, s, e, n = transform_bounds(ds.crs, "EPSG:4326", *box)
    s2, sr = tmp_path / "s2.tif", tmp_path / "sr.tif"
    assert main(["-q", "fetch", str(s2), "--stac", site.catalog, "--collection", "sentinel-2-l1c", "--bbox",
                 f"{w},{s},{e},{n}", "--datetime", "2015-07-01/2015-09-30"]) == 0
    with rasterio.open(s2) as ds:
        assert ds.tags()["STAC_ITEM"] == "S2A_33TVM_20150711_0_L1C" and ds.crs.to_epsg() == 32633
        c0, r0 = round((ds.transform.c - t.c) / t.a), round((ds.transform.f - t.f) / t.e)
        assert (ds.transform.c - t.c) / t.a == pytest.approx(c0, abs=1e-6)  # on the sample's own grid
        np.testing.assert_array_equal(ds.read(), full[:, r0:r0 + ds.height, c0:c0 + ds.width])  # baseline 02.00
        assert 50 <= ds.width <= 53 and 50 <= ds.height <= 53
    assert main(["-q", "apply", str(bicubic_pt), str(s2), str(sr)]) == 0
    with rasterio.open(sr) as ds:
        assert ds.tags()["STAC_ITEM"] == "S2A_33TVM_20150711_0_L1C" and ds.tags()["LEVEL"] == "L1C"
