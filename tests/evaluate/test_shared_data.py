"""Wald evaluation on a real Sentinel-2 sample (skipped without ../shared/data)."""

from __future__ import annotations

import json

import pytest
import rasterio

from s2sr.evaluate.config import make_eval_config
from s2sr.evaluate.run import evaluate


@pytest.mark.shared_data
def test_wald_on_real_eolearn_scene(shared_data, bicubic_model, tmp_path) -> None:
    img = shared_data / "eolearn" / "TestEOPatch_20150711_10m.tif"
    if not img.is_file():
        pytest.skip(f"{img} not found")
    res = evaluate(make_eval_config(model=bicubic_model(4), wald=img, out=tmp_path / "ev", tile=8, progress=False))
    doc = json.loads(res.metrics_path.read_text())
    assert res.pixels == 100 * 100  # 101 rows cropped to a multiple of 4
    with rasterio.open(img) as src, rasterio.open(res.sr_path) as sr:
        assert sr.crs == src.crs and sr.transform.almost_equals(src.transform)
    m = {k: v["overall"] for k, v in doc["methods"].items()}
    # real data: smooth interpolators beat nearest on PSNR; SAM stays small for all
    assert m["bicubic"]["psnr"] > m["nearest"]["psnr"]
    assert all(0 <= v["sam"] < 10 for v in m.values())
    assert len(doc["strata"]) == 3
