"""Density strata and opensr-test scores on a real dense city (skipped without ../shared/data)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from s2sr.evaluate.config import make_eval_config
from s2sr.evaluate.metrics import grad_mag
from s2sr.evaluate.run import evaluate

# the dense centre of Beirut (OSCD, Sentinel-2 L1C 10 m): 256 x 256 px of blocks and streets
CITY, WINDOW, TILE = "oscd/beirut_20150820.tif", Window(224, 192, 256, 256), 64


@pytest.mark.shared_data
def test_strata_spread_on_a_dense_city_where_the_fixed_threshold_saturated(shared_data, bicubic_model,
                                                                            tmp_path) -> None:
    src = shared_data / CITY
    if not src.is_file():
        pytest.skip(f"{src} not found")
    with rasterio.open(src) as ds:
        data = ds.read(window=WINDOW)
        prof = dict(driver="GTiff", width=WINDOW.width, height=WINDOW.height, count=ds.count, dtype=data.dtype,
                    crs=ds.crs, transform=ds.window_transform(WINDOW))
    img = tmp_path / "beirut_centre.tif"
    with rasterio.open(img, "w", **prof) as out:
        out.write(data)
    res = evaluate(make_eval_config(model=bicubic_model(4), wald=img, out=tmp_path / "ev", tile=TILE // 4, progress=False,
                               keep_sr=False))
    doc = json.loads(res.metrics_path.read_text())
    dens = np.array([t["density"] for t in doc["tiles"]])
    # the previous rule, |grad| > 2 % of the mean data range, on the same tiles: 89-96 % edges everywhere
    g = grad_mag(data.astype(np.float64).mean(axis=0, keepdims=True))[0]
    fixed = 0.02 * float(np.mean(doc["data_range"]))
    old = np.array([(g[t["row_off"]:t["row_off"] + TILE, t["col_off"]:t["col_off"] + TILE] > fixed).mean()
                    for t in doc["tiles"]])
    assert old.min() > 0.85
    assert np.ptp(dens) > 2 * np.ptp(old)  # measured 0.18 vs 0.06
    assert 0.3 < dens.mean() < 0.55  # about half the pixels are above the scene's median gradient
    sparse, dense = doc["strata"][0], doc["strata"][-1]
    assert dense["density_min"] > sparse["density_max"]
    # opensr-test scores on real data: finite, classes sum to 1
    for m, v in doc["methods"].items():
        s = v["opensr"]
        assert s["improvement"] + s["omission"] + s["hallucination"] == pytest.approx(1.0, abs=1e-9), m
        assert 0 < s["reflectance"] < 0.05 and 0 < s["spectral"] < 5 and s["synthesis"] > 0
    assert doc["opensr"]["pixels"] == 224 * 224
