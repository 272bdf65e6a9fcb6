"""evaluate on a .SAFE product scores the same pixels as on the stacked bands."""

from __future__ import annotations

import json

import numpy as np
import rasterio
from affine import Affine

from s2sr.evaluate.config import make_eval_config
from s2sr.evaluate.run import evaluate


def test_wald_evaluation_of_a_safe_product_equals_the_stacked_geotiff(make_safe, s2_data, bicubic_pt, tmp_path):
    safe, data = make_safe("L1C", "02.05", data=s2_data((4, 128, 128), seed=9))
    tif = tmp_path / "stack.tif"
    with rasterio.open(tif, "w", driver="GTiff", width=128, height=128, count=4, dtype="uint16", crs="EPSG:32631",
                       transform=Affine(10, 0, 399960, 0, -10, 5000040), nodata=0) as ds:
        ds.write(data)
        ds.descriptions = ("B2", "B3", "B4", "B8")
    docs = []
    for name, image in (("safe", safe), ("tif", tif)):
        res = evaluate(make_eval_config(model=bicubic_pt, wald=image, out=tmp_path / name, tile=16, progress=False,
                                        opensr=False))
        docs.append(json.loads(res.metrics_path.read_text()))
    assert docs[0]["pixels"] == docs[1]["pixels"] == 128 * 128
    for m in docs[0]["methods"]:
        for k, v in docs[0]["methods"][m]["overall"].items():
            assert np.isclose(v, docs[1]["methods"][m]["overall"][k], equal_nan=True), (m, k)


def test_split_from_finds_the_pair_of_a_product(make_safe, s2_data, make_raster, bicubic_pt, tmp_path):
    """prepare records the product's path, so evaluate --lr PRODUCT --split-from DS scores its test patches."""
    from s2sr.data.config import make_prepare_config
    from s2sr.data.prepare import prepare

    safe, _ = make_safe("L1C", "02.05", data=s2_data((4, 128, 128), seed=4))
    hr = make_raster("hr.tif", res=2.5, shape=(4, 544, 544), origin=(399960.0 - 40, 5000040.0 + 40), seed=3,
                     nodata=None)
    prepare(make_prepare_config(pairs=[(safe, hr)], scale=4, patch_size=16, out=tmp_path / "ds", min_std=0))
    res = evaluate(make_eval_config(model=bicubic_pt, lr=safe, hr=hr, split_from=tmp_path / "ds", out=tmp_path / "ev",
                                    tile=16, progress=False, opensr=False, input_check=False))
    full = evaluate(make_eval_config(model=bicubic_pt, lr=safe, hr=hr, out=tmp_path / "ev_all", tile=16,
                                     progress=False, opensr=False, input_check=False))
    assert 0 < res.pixels < full.pixels  # the test split only
