"""opensr-test scores inside ``s2sr evaluate``: metrics.json, report, size limit, test split, CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import rasterio

from s2sr.cli.main import main
from s2sr.evaluate.config import make_eval_config
from s2sr.evaluate.opensr import SCORES, opensr_scores
from s2sr.evaluate.opensr_scene import opensr_window, opensr_winners
from s2sr.evaluate.run import evaluate
from s2sr.sensor import SensorModel

from .conftest import smooth_image

METHODS = {"model", "nearest", "bilinear", "bicubic", "lanczos"}


@pytest.fixture
def wald_eval(make_raster, bicubic_model, tmp_path):
    img = make_raster("img.tif", data=smooth_image((4, 128, 128), 11), nodata=None)
    res = evaluate(make_eval_config(model=bicubic_model(4), wald=img, out=tmp_path / "ev", tile=16, progress=False))
    return res, json.loads(res.metrics_path.read_text())


def test_metrics_json_has_opensr_scores_per_method(wald_eval) -> None:
    res, doc = wald_eval
    assert set(doc["methods"]) == METHODS
    for m, v in doc["methods"].items():
        assert set(v["opensr"]) == set(SCORES), m
        s = v["opensr"]
        assert s["improvement"] + s["omission"] + s["hallucination"] == pytest.approx(1.0, abs=1e-9)
        assert 0 <= s["reflectance"] < 0.05 and 0 <= s["spectral"] < 5
    o = doc["opensr"]
    assert o["whole_scene"] and o["window"] == [0, 0, 128, 128] and o["skipped"] is None
    assert o["pixels"] == 96 * 96  # 16-pixel border cropped on each side
    assert res.opensr["model"] == doc["methods"]["model"]["opensr"]
    # nearest copies LR pixels: further from the truth's texture than bicubic
    assert doc["methods"]["nearest"]["opensr"]["hallucination"] > doc["methods"]["bicubic"]["opensr"]["hallucination"]


def test_evaluate_scores_equal_the_function_on_the_written_rasters(wald_eval) -> None:
    res, doc = wald_eval
    read = {}
    for name, path in (("lr", res.out / "wald" / "lr.tif"), ("hr", res.out / "wald" / "hr.tif"), ("sr", res.sr_path)):
        with rasterio.open(path) as ds:
            read[name] = ds.read().astype(np.float32) * np.float32(1e-4)
    want = opensr_scores(read["lr"], read["sr"], read["hr"])
    got = doc["methods"]["model"]["opensr"]
    for k in SCORES:
        if math.isnan(want[k]):
            assert got[k] is None
        else:
            assert got[k] == pytest.approx(want[k], rel=1e-6, abs=1e-9), k


def test_report_shows_the_opensr_table(wald_eval) -> None:
    res, doc = wald_eval
    html = res.report_path.read_text()
    assert "<h2>opensr-test scores</h2>" in html and "over the whole scene" in html
    imp = doc["methods"]["model"]["opensr"]["improvement"]
    assert f"{imp:.4g}" in html
    win = doc["opensr"]["winners"]["hallucination"]
    assert all(w in METHODS for w in win)


def test_window_above_the_limit_is_centred_and_scale_aligned() -> None:
    w = opensr_window(1000, 600, 4, 10**9)
    assert (w.col_off, w.row_off, w.width, w.height) == (0, 0, 1000, 600)
    w = opensr_window(1000, 600, 4, 150_000)
    assert w.width * w.height <= 150_000
    assert w.width % 4 == 0 and w.height % 4 == 0 and w.col_off % 4 == 0 and w.row_off % 4 == 0
    assert abs(w.width / w.height - 1000 / 600) < 0.02
    assert abs((w.col_off + w.width / 2) - 500) <= 4 and abs((w.row_off + w.height / 2) - 300) <= 4


def test_large_scene_uses_a_window_or_skips_with_a_reason(make_raster, bicubic_model, tmp_path) -> None:
    img = make_raster("img.tif", data=smooth_image((4, 128, 128), 3), nodata=None)
    res = evaluate(make_eval_config(model=bicubic_model(4), wald=img, out=tmp_path / "a", tile=16, progress=False,
                               opensr_max_pixels=80 * 80, keep_sr=False))
    o = json.loads(res.metrics_path.read_text())["opensr"]
    assert not o["whole_scene"] and o["window"] == [24, 24, 80, 80] and o["pixels"] == 48 * 48
    assert "centred window col 24, row 24, 80×80" in res.report_path.read_text()
    res = evaluate(make_eval_config(model=bicubic_model(4), wald=img, out=tmp_path / "b", tile=16, progress=False,
                               opensr_max_pixels=32 * 32, keep_sr=False))
    doc = json.loads(res.metrics_path.read_text())
    assert "too small for the 16-pixel border" in doc["opensr"]["skipped"]
    assert "opensr" not in doc["methods"]["model"] and res.opensr == {}
    assert "Skipped: window 32x32 px" in res.report_path.read_text()


def test_no_opensr_and_reflectance_scale_from_the_cli(make_raster, bicubic_model, tmp_path, capsys) -> None:
    img = make_raster("img.tif", data=smooth_image((4, 96, 96), 8), nodata=None)
    model = str(bicubic_model(4))
    assert main(["-q", "evaluate", "--model", model, "--wald", str(img), "--out", str(tmp_path / "a"),
                 "--tile", "12", "--no-opensr"]) == 0
    assert "opensr" not in json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert "opensr-test" not in capsys.readouterr().out
    for out, scale in (("b", "10000"), ("c", "1000")):
        assert main(["-q", "evaluate", "--model", model, "--wald", str(img), "--out", str(tmp_path / out),
                     "--tile", "12", "--reflectance-scale", scale]) == 0
    assert "opensr-test: model improvement" in capsys.readouterr().out
    b, c = (json.loads((tmp_path / o / "metrics.json").read_text())["methods"]["model"]["opensr"] for o in "bc")
    # L1 scores scale with the reflectance unit; angles and the fractional-difference classes do not
    assert c["reflectance"] == pytest.approx(10 * b["reflectance"], rel=1e-5)
    assert c["spectral"] == pytest.approx(b["spectral"], rel=1e-5)
    assert c["improvement"] == pytest.approx(b["improvement"], abs=1e-6)


def test_winners_follow_directions_and_skip_synthesis() -> None:
    m = {"model": {"improvement": 0.5, "hallucination": 0.2, "synthesis": 0.01, "omission": 0.3},
         "bicubic": {"improvement": 0.1, "hallucination": 0.2, "synthesis": 0.0, "omission": 0.7}}
    w = opensr_winners(m)
    assert w["improvement"] == ["model"] and w["omission"] == ["model"]
    assert w["hallucination"] == ["model", "bicubic"] and "synthesis" not in w


def test_split_from_leaves_training_areas_out_of_the_means(make_raster, bicubic_model, tmp_path) -> None:
    from s2sr.data.store import StoreWriter

    x0, y0, res = 500000.0, 4600000.0, 10.0
    img = make_raster("img.tif", data=smooth_image((4, 128, 128), 5), res=2.5, nodata=None, origin=(x0, y0))
    res_ = evaluate(make_eval_config(model=bicubic_model(4), wald=img, out=tmp_path / "w", tile=8, progress=False))
    lr, hr = res_.out / "wald" / "lr.tif", res_.out / "wald" / "hr.tif"
    for split, (c0, c1) in (("test", (0, 16)), ("train", (16, 32)), ("val", (0, 0))):
        w = StoreWriter(tmp_path / "prep", split, ["B2", "B3", "B4", "B8"], 16, 4)
        if c1 > c0:
            w.add(np.zeros((4, 16, 16)), np.zeros((4, 64, 64)), {"id": 0, "pair": 0, "left": x0 + c0 * res,
                  "right": x0 + c1 * res, "top": y0, "bottom": y0 - 32 * res})
        w.close()
    out = evaluate(make_eval_config(model=bicubic_model(4), lr=lr, hr=hr, out=tmp_path / "ev", tile=8,
                               split_from=tmp_path / "prep", progress=False))
    o = json.loads(out.metrics_path.read_text())["opensr"]
    # the whole scene is harmonised, but only test pixels inside the 16-px border count: cols 16..64, rows 16..112
    assert o["whole_scene"] and o["pixels"] == 48 * 96


def test_nodata_pixels_are_left_out(make_raster, bicubic_model, tmp_path) -> None:
    data = smooth_image((4, 128, 128), 6)
    data[:, 40:60, 40:80] = 0  # a nodata hole inside the scene
    img = make_raster("img.tif", data=data, nodata=0)
    res = evaluate(make_eval_config(model=bicubic_model(4), wald=img, out=tmp_path / "ev", tile=16, progress=False,
                               keep_sr=False))
    doc = json.loads(res.metrics_path.read_text())
    o = doc["opensr"]
    # The hole (aligned with LR blocks, 5 x 10 LR px) is left out, grown by the LR pixels
    # whose blur support reaches it: Wald's degradation marks those nodata too.
    grow = -(-SensorModel(scale=4).radius_hr // 4)  # in LR pixels
    assert o["pixels"] == 96 * 96 - (20 + 8 * grow) * (40 + 8 * grow)
    for m in METHODS:
        s = doc["methods"][m]["opensr"]
        assert all(s[k] is not None and math.isfinite(s[k]) for k in SCORES if k != "spatial"), m
        assert s["improvement"] + s["omission"] + s["hallucination"] == pytest.approx(1.0, abs=1e-9)
