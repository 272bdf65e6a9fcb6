"""``evaluate --degradation`` (Wald and aerial references) and ``evaluate --real`` end to end through the
CLI, on seeded rasters, with a bicubic model (its gain over GDAL bicubic is about 0)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from s2sr.cli.main import main

from ..conftest import S2_STATS, make_bundle, textured_scene


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return make_bundle(input_stats=S2_STATS).save(tmp_path / "bic.pt")


def test_wald_under_named_degradations_gives_one_row_each(make_raster, model: Path, tmp_path: Path, capsys) -> None:
    img = make_raster("s2.tif", shape=(4, 96, 96), seed=3)
    out = tmp_path / "e"
    assert main(["evaluate", "--model", str(model), "--wald", str(img), "--degradation", "area,mtf0.3,noise30",
                 "--out", str(out)]) == 0
    doc = json.loads((out / "metrics.json").read_text())
    assert [r["degradation"] for r in doc["rows"]] == ["area", "mtf0.3", "noise30"]
    area, mtf = doc["rows"][0], doc["rows"][1]
    assert area["model"]["psnr"] > mtf["model"]["psnr"]  # a sharper input is closer to the reference
    assert all(abs(r["gain_db"]) < 0.5 for r in doc["rows"])  # torch bicubic vs GDAL cubic
    assert area["system_mtf"][0] == pytest.approx(2 / np.pi)
    assert "mtf0.3" in capsys.readouterr().out
    page = (out / "report.html").read_text()
    assert "noise30" in page and "crop_area_densest.png" in page
    with Image.open(out / "crop_area_densest.png") as im:
        assert im.size[0] >= 4 * 4 * 24  # input | bicubic | model | reference, 24 LR px each at least


def test_aerial_reference_is_scored_on_rgb_only(make_raster, model: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rgb = (rng.normal(size=(3, 600, 600)).cumsum(1).cumsum(2))
    rgb = (20 + 200 * (rgb - rgb.min()) / np.ptp(rgb)).astype("uint8")
    aerial = make_raster("aerial.tif", res=0.5, data=rgb, nodata=0)
    out = tmp_path / "a"
    assert main(["evaluate", "--model", str(model), "--hr", str(aerial), "--degradation", "mtf0.3", "--out", str(out)]) == 0
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["scored_bands"] == ["B2", "B3", "B4"]
    assert doc["reference_shape"] == [4, 120, 120]  # 300 m at 2.5 m
    assert len(doc["rows"][0]["gain_per_band_db"]) == 3


def test_real_input_statistics_and_crops(make_raster, model: Path, tmp_path: Path) -> None:
    img = make_raster("real.tif", data=textured_scene(80, 5))
    out = tmp_path / "r"
    assert main(["evaluate", "--model", str(model), "--real", str(img), "--out", str(out)]) == 0
    doc = json.loads((out / "metrics.json").read_text())
    st = doc["stats"]
    assert st["model"]["grid_peak"]["overall"] < 3 and st["bicubic"]["grid_peak"]["overall"] < 3
    assert st["model"]["spectral_angle_to_bicubic_deg"] < 0.1  # the bicubic model is bicubic (apply: tiles, float32)
    assert {c["label"] for c in doc["crops"]} == {"densest", "smoothest"}
    assert (out / "crop_densest.png").is_file() and "crop_smoothest.png" in (out / "report.html").read_text()


@pytest.mark.parametrize("args, msg", [
    (["--real", "R", "--wald", "W"], "--real IMG takes no --lr, --hr, --wald or --degradation"),
    (["--degradation", "area", "--lr", "L", "--hr", "H"], "--degradation needs --wald S2.tif, or --hr AERIAL.tif without --lr"),
])
def test_mode_errors_are_one_line(model: Path, tmp_path: Path, capsys, args: list[str], msg: str) -> None:
    assert main(["evaluate", "--model", str(model), *args, "--out", str(tmp_path / "x")]) != 0
    assert msg in capsys.readouterr().err


def test_unknown_degradation_is_refused(make_raster, model: Path, tmp_path: Path, capsys) -> None:
    img = make_raster("s2.tif", shape=(4, 64, 64))
    assert main(["evaluate", "--model", str(model), "--wald", str(img), "--degradation", "blur9",
                 "--out", str(tmp_path / "x")]) != 0
    err = capsys.readouterr().err
    assert "unknown degradation 'blur9'" in err and len(err.strip().splitlines()) == 1
