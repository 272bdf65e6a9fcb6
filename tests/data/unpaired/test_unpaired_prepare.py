"""``prepare --unpaired``: pseudo-pairs from the fitted degradation, records, and refusals of bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

from s2sr.data.dataset import open_dataset
from s2sr.data.unpaired.config import UnpairedConfig
from s2sr.data.unpaired.prepare import prepare_unpaired
from s2sr.sensor import SensorModel
from s2sr.synth import SynthResult


@pytest.fixture(scope="module")
def unpaired(synth_scene: Callable[..., SynthResult], tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, ...]:
    """LR domain: the synthetic LR of seed 1; HR: the synthetic HR of seed 2 (another landscape)."""
    lr, hr = synth_scene(1, 1024), synth_scene(2, 1024)
    out = tmp_path_factory.mktemp("unp") / "ds"
    cfg = UnpairedConfig(lr=[lr.lr], hr=[hr.hr], scale=4, out=out, patch_size=16, edge_fits=600)
    return prepare_unpaired(cfg), lr, hr


def test_fitted_values_are_near_the_truth_and_recorded(unpaired: tuple[Any, ...]) -> None:
    res, lr, _ = unpaired
    truth = json.loads(lr.truth.read_text())
    man = json.loads(res.prepare_json.read_text())
    fit = man["unpaired"]["fit"]
    assert fit["mtf_nyquist"] == pytest.approx(truth["sensor"]["mtf_nyquist"], rel=0.15)
    assert man["sensor"]["mtf_nyquist"] == fit["mtf_nyquist"]
    rad = fit["radiometry"]["hr"]
    np.testing.assert_allclose(rad["gains"], truth["gains"], rtol=0.06)
    noise = fit["noise"]
    true_std = [6 + 0.004 * s for s in noise["median_signal"]]
    np.testing.assert_allclose(noise["std_at_median_signal"], true_std, rtol=0.4)
    assert man["unpaired"]["lr_domain"] == [str(lr.lr)]
    assert man["input_res_m"] == 10.0 and man["lr_res_m"] == 10.0 and man["unpaired"]["fine_res_m"] == 2.5
    assert man["pairs"][0]["kind"] == "pseudo" and man["pairs"][0]["harmonisation"]["gains"] == rad["gains"]


def test_patches_are_the_mapped_hr_and_its_degradation(unpaired: tuple[Any, ...]) -> None:
    res, _, hr = unpaired
    man = json.loads(res.prepare_json.read_text())
    fit = man["unpaired"]["fit"]
    rad = fit["radiometry"]["hr"]
    train = open_dataset(res.out).split("train")
    assert len(train) == res.counts["train"] > 20 and res.counts["val"] > 0
    with rasterio.open(hr.hr) as ds:
        full = ds.read().astype(np.float64)
    rows = (res.out / "store/train/index.csv").read_text().splitlines()[1:]
    i = 3
    row, col = (int(v) for v in rows[i].split(",")[2:4])
    lr_p, hr_p = train[i]
    want = full[:, row * 4:(row + 16) * 4, col * 4:(col + 16) * 4] * np.array(rad["gains"])[:, None, None] \
        + np.array(rad["offsets"])[:, None, None]
    np.testing.assert_allclose(hr_p, want, rtol=1e-5, atol=0.05)
    resid = lr_p - SensorModel(4, fit["mtf_nyquist"]).degrade(hr_p)
    inner = resid[:, 2:-2, 2:-2]  # the patch edges see mirrored, not real, neighbours
    assert np.abs(inner.mean()) < 2.0
    np.testing.assert_allclose(inner.std(axis=(1, 2)), fit["noise"]["std_at_median_signal"], rtol=0.35)


def test_training_card_says_unpaired(unpaired: tuple[Any, ...]) -> None:
    from s2sr.train.checkpoint import _unpaired_line

    res, _, _ = unpaired
    ds = open_dataset(res.out)
    info = ds.training_info(ds.split("train"))
    line = _unpaired_line({"prepare": info.summary})
    assert "unpaired: HR from hr.tif, LR domain from lr.tif (1 Sentinel-2 images)" in line
    assert f"MTF at Nyquist {info.sensor.mtf_nyquist}" in line


# ---- refusals: one line naming the file and the fix, exit 2, nothing written ----------------
def _s2(make_raster: Callable[..., Path], **kw: Any) -> Path:
    return make_raster("s2.tif", res=10.0, shape=(4, 64, 64), descriptions=("B2", "B3", "B4", "B8"), **kw)


def _refused(cli: Callable[[list[str]], int], capsys: pytest.CaptureFixture[str], argv: list[str], out: Path) -> str:
    code = cli(["prepare", "--unpaired", *argv, "--scale", "4", "--patch-size", "8", "--out", str(out)])
    err = capsys.readouterr().err
    errors = [ln for ln in err.splitlines() if not ln.startswith("INFO ")]  # progress logs go to stderr too
    assert code == 2
    assert len(errors) == 1 and errors[0].startswith("s2sr prepare: error: "), errors
    assert "Traceback" not in err
    assert not out.exists()
    return errors[0]


def test_hr_coarser_than_lr_over_scale(make_raster, cli, capsys, tmp_path) -> None:
    s2 = _s2(make_raster)
    hr = make_raster("aerial5m.tif", res=5.0, shape=(4, 64, 64), descriptions=("R", "G", "B", "NIR"))
    msg = _refused(cli, capsys, ["--lr", str(s2), "--hr", str(hr)], tmp_path / "ds")
    assert "aerial5m.tif: HR pixel size 5 m is coarser than LR_res/scale = 10/4 = 2.5 m" in msg
    assert "--train-res 20" in msg


def test_hr_with_too_few_bands(make_raster, cli, capsys, tmp_path) -> None:
    s2 = _s2(make_raster)
    hr = make_raster("rgb.tif", res=2.5, shape=(3, 64, 64), descriptions=("R", "G", "B"))
    msg = _refused(cli, capsys, ["--lr", str(s2), "--hr", str(hr)], tmp_path / "ds")
    assert "rgb.tif: has 3 band(s) but the LR bands B2,B3,B4,B8 need 4" in msg


def test_hr_all_nodata(make_raster, cli, capsys, tmp_path) -> None:
    s2 = _s2(make_raster)
    hr = make_raster("empty.tif", res=2.5, data=np.zeros((4, 64, 64), np.uint8), nodata=0,
                     descriptions=("R", "G", "B", "NIR"))
    msg = _refused(cli, capsys, ["--lr", str(s2), "--hr", str(hr)], tmp_path / "ds")
    assert "empty.tif: every pixel is nodata (0.0)" in msg


def test_s2_set_too_small_to_fit_an_mtf(make_raster, cli, capsys, tmp_path) -> None:
    s2 = _s2(make_raster)  # smooth noise: no straight edge
    hr = make_raster("aerial.tif", res=2.5, shape=(4, 128, 128), dtype="uint8", nodata=None,
                     data=np.random.default_rng(1).integers(20, 230, (4, 128, 128)).astype(np.uint8),
                     descriptions=("R", "G", "B", "NIR"))
    msg = _refused(cli, capsys, ["--lr", str(s2), "--hr", str(hr)], tmp_path / "ds")
    assert str(s2) in msg and "straight edges found, 30 needed to fit the MTF" in msg and "--mtf" in msg


def test_a_known_mtf_skips_the_fit(make_raster, cli, capsys, tmp_path) -> None:
    s2 = _s2(make_raster)
    rng = np.random.default_rng(1)
    hr = make_raster("aerial.tif", res=2.5, shape=(4, 128, 128), dtype="uint8", nodata=None,
                     data=rng.integers(20, 230, (4, 128, 128)).astype(np.uint8), descriptions=("R", "G", "B", "NIR"))
    out = tmp_path / "ds"
    code = cli(["prepare", "--unpaired", "--lr", str(s2), "--hr", str(hr), "--scale", "4", "--patch-size", "8",
                "--mtf", "0.25", "--min-std", "0", "--out", str(out)])
    assert code == 0
    man = json.loads((out / "prepare.json").read_text())
    assert man["sensor"]["mtf_nyquist"] == 0.25 and "given" in man["unpaired"]["fit"]["mtf"]["source"]
    assert man["pairs"][0]["hr_bands"] == [3, 2, 1, 4]


@pytest.mark.shared_data
def test_naip_bands_map_by_name(shared_data: Path) -> None:
    from s2sr.data.unpaired.inputs import read_hr

    im = read_hr(shared_data / "aerial/naip_m_3607717_sw_18_20160620_subset_1m.tif", ["B2", "B3", "B4", "B8"],
                 None, 2.5, 4, 10.0, 10**7)
    assert im.bands == [3, 2, 1, 4] and im.data.shape == (4, 120, 120) and im.valid.all()
