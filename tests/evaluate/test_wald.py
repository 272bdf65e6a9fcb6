"""Wald protocol: `evaluate --wald` on a small generated image."""

from __future__ import annotations

import json

import pytest
import rasterio

from s2sr.evaluate.config import make_eval_config
from s2sr.evaluate.run import evaluate

from .conftest import smooth_image


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
    with pytest.raises(OutputError, match="already exists; remove it, choose another --out, or pass --overwrite"):
        evaluate(make_eval_config(model=bicubic_model(4), wald=img, out=tmp_path / "ev", progress=False))




def test_wald_mode_does_not_warn_about_the_degraded_resolution(make_raster, bicubic_pt, tmp_path, caplog) -> None:
    """Wald mode applies a 10 m model to the 40 m degraded image on purpose; plain apply still warns."""
    import logging

    from s2sr.infer.apply import ApplyConfig, apply_model

    model = bicubic_pt
    img = make_raster("img.tif", data=smooth_image((4, 64, 64), 3), nodata=None, res=10.0)
    with caplog.at_level(logging.WARNING):
        evaluate(make_eval_config(model=model, wald=img, out=tmp_path / "ev", tile=16, progress=False))
    assert "training resolution" not in caplog.text
    coarse = make_raster("coarse.tif", data=smooth_image((4, 16, 16), 3), nodata=None, res=40.0)
    with caplog.at_level(logging.WARNING):
        apply_model(model, coarse, tmp_path / "sr.tif", ApplyConfig(progress=False))
    assert "pixel size 40 m differs from the model's training resolution 10 m" in caplog.text
