"""Wald protocol: `s2sr degrade` pairs and `evaluate --wald` on a small generated image."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio

from s2sr.data.wald import degrade_image
from s2sr.evaluate.config import make_eval_config
from s2sr.evaluate.run import evaluate
from s2sr.grid import Grid, fine_grid
from s2sr.sensor import SensorModel

from .conftest import smooth_image


@pytest.mark.parametrize("crs", ["EPSG:32633", None])
def test_degrade_writes_a_wald_pair_equal_to_whole_image_degradation(make_raster, tmp_path, crs) -> None:
    img = make_raster("img.tif", data=smooth_image((4, 103, 98), 3), crs=crs, nodata=None,
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


@pytest.mark.parametrize("crs", ["EPSG:32633", None])
def test_evaluate_wald_mode_on_small_image(make_raster, bicubic_model, tmp_path, crs) -> None:
    img = make_raster("img.tif", data=smooth_image((4, 130, 128), 7), nodata=None, crs=crs)
    res = evaluate(make_eval_config(model=bicubic_model(4), wald=img, out=tmp_path / "ev", tile=16, progress=False))
    doc = json.loads(res.metrics_path.read_text())
    assert doc["mode"] == "wald" and res.pixels == 128 * 128  # 130 rows cropped to a multiple of 4
    assert set(doc["methods"]) == {"model", "nearest", "bilinear", "bicubic", "lanczos"}
    m = {k: v["overall"] for k, v in doc["methods"].items()}
    # on a smooth image the interpolators rank as expected, and the bicubic "model" is bicubic-like
    assert m["nearest"]["psnr"] < m["bilinear"]["psnr"] < m["bicubic"]["psnr"]
    assert abs(m["model"]["psnr"] - m["bicubic"]["psnr"]) < 1.0
    assert m["bicubic"]["omission"] == 1.0 and m["bicubic"]["improvement"] == 0.0
    assert 0 < m["model"]["lr_psnr"] < 100
    assert sum(s["pixels"] for s in doc["strata"]) == res.pixels
    assert [c["label"] for c in doc["crops"]][0] == "best"
    with rasterio.open(res.sr_path) as sr, rasterio.open(tmp_path / "ev" / "wald" / "hr.tif") as hr:
        assert sr.transform.almost_equals(hr.transform) and sr.shape == hr.shape and sr.crs == hr.crs
    assert (tmp_path / "ev" / "report.html").stat().st_size > 10_000


def test_evaluate_refuses_existing_output_without_overwrite(make_raster, bicubic_model, tmp_path) -> None:
    from s2sr.errors import OutputError

    img = make_raster("img.tif", data=smooth_image((4, 64, 64), 1), nodata=None)
    (tmp_path / "ev").mkdir()
    with pytest.raises(OutputError, match="already exists"):
        evaluate(make_eval_config(model=bicubic_model(4), wald=img, out=tmp_path / "ev", progress=False))




def test_wald_mode_does_not_warn_about_the_degraded_resolution(make_raster, tmp_path, caplog) -> None:
    """Wald mode applies a 10 m model to the 40 m degraded image on purpose; plain apply still warns."""
    import logging

    import numpy as np

    from s2sr.archs import build_arch
    from s2sr.bundle import ModelBundle
    from s2sr.infer.apply import ApplyConfig, apply_model
    from s2sr.sensor import SensorModel

    model = ModelBundle(arch="bicubic", arch_kwargs={"in_ch": 4, "scale": 4}, scale=4,
                        bands=["B2", "B3", "B4", "B8"], mean=np.zeros(4), std=np.ones(4) * 1000,
                        module=build_arch("bicubic", in_ch=4, scale=4), sensor=SensorModel(4),
                        input_res=10.0).save(tmp_path / "m.pt")
    img = make_raster("img.tif", data=smooth_image((4, 64, 64), 3), nodata=None, res=10.0)
    with caplog.at_level(logging.WARNING):
        evaluate(make_eval_config(model=model, wald=img, out=tmp_path / "ev", tile=16, progress=False))
    assert "training resolution" not in caplog.text
    coarse = make_raster("coarse.tif", data=smooth_image((4, 16, 16), 3), nodata=None, res=40.0)
    with caplog.at_level(logging.WARNING):
        apply_model(model, coarse, tmp_path / "sr.tif", ApplyConfig(progress=False))
    assert "pixel size 40 differs from the model's training resolution 10" in caplog.text
