"""s2sr synth: a georeferenced landscape pair consistent with the sensor model and truth.json."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from scipy import ndimage

from s2sr.cli.main import main
from s2sr.errors import ConfigError
from s2sr.sensor import SensorModel
from s2sr.synth import degrade_shifted, synthesise


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return synthesise(tmp_path_factory.mktemp("synth") / "scene", seed=3, size=512, scale=4)


def test_files_are_georeferenced_uint16_with_bands_and_nodata(scene):
    with rasterio.open(scene.hr) as hr, rasterio.open(scene.lr) as lr:
        assert hr.crs.to_epsg() == lr.crs.to_epsg() == 32631
        assert hr.res == (2.5, 2.5) and lr.res == (10.0, 10.0)
        assert (hr.width, hr.height, lr.width, lr.height) == (512, 512, 128, 128)
        assert hr.bounds == lr.bounds
        assert hr.transform.c % 10 == 0 and hr.transform.f % 10 == 0
        for ds in (hr, lr):
            assert ds.count == 4 and ds.dtypes == ("uint16",) * 4
            assert ds.descriptions == ("B2", "B3", "B4", "B8") and ds.nodata == 0
        h, lo = hr.read(), lr.read()
    assert h.min() >= 1  # HR has no nodata
    assert np.all(lo[:, :, 0] == 0)  # the tile edge strip on the west
    strip = np.all(lo == 0, axis=0)
    assert 0.005 < strip.mean() < 0.1 and not strip[:, -1].any()


def test_truth_is_within_documented_ranges(scene):
    t = json.loads(scene.truth.read_text())
    mag = np.hypot(t["shift_lr_px"]["dx"], t["shift_lr_px"]["dy"])
    assert 0.1 <= mag <= 0.5
    assert all(0.9 <= g <= 1.1 for g in t["gains"])
    assert t["sensor"] == SensorModel(4, 0.3).to_dict()
    assert (t["shift_lr_px"]["dx"], t["shift_lr_px"]["dy"]) == scene.shift_lr_px


def test_lr_is_the_sensor_model_of_hr(scene):
    """LR = gain * degrade(shift(HR)) + offset + noise on valid, cloud-free pixels."""
    t = json.loads(scene.truth.read_text())
    with rasterio.open(scene.hr) as hr, rasterio.open(scene.lr) as lr:
        h, lo = hr.read().astype(np.float64), lr.read().astype(np.float64)
    s = SensorModel(4)
    pred = degrade_shifted(h, s, t["shift_lr_px"]["dx"] * 4, t["shift_lr_px"]["dy"] * 4)
    pred = pred * np.asarray(t["gains"])[:, None, None] + np.asarray(t["offsets"])[:, None, None]
    ok = np.all(lo > 0, axis=0) & (lo.mean(axis=0) < 3000)
    ok = ndimage.binary_erosion(ok, iterations=3)
    ok[:3], ok[-3:], ok[:, :3], ok[:, -3:] = False, False, False, False
    resid = (lo - pred)[:, ok]
    assert np.abs(np.median(resid, axis=1)).max() < 3
    assert resid.std(axis=1).max() < 25  # the synthetic noise, nothing else
    unshifted = s.degrade(h) * np.asarray(t["gains"])[:, None, None] + np.asarray(t["offsets"])[:, None, None]
    assert (lo - unshifted)[:, ok].std() > 1.5 * resid.std()  # the shift is real


def test_landscape_has_classes_and_fine_structure(scene):
    with rasterio.open(scene.hr) as hr:
        b2, b3, b4, b8 = hr.read().astype(np.float64)
    ndvi = (b8 - b4) / (b8 + b4)
    assert (ndvi > 0.6).mean() > 0.2  # crops, grass, forest
    assert ((b8 < 400) & (b3 > b8)).mean() > 0.005  # water
    roofs = (b2 > 1300) & (ndvi < 0.3)
    lab, n = ndimage.label(roofs)
    sizes = np.bincount(lab.ravel())[1:]
    assert n > 50 and np.median(sizes) < 40  # many small buildings, a few HR px each
    # detail that a 10 m sensor blurs: high-pass energy in HR well above its degraded version
    hp = b4 - ndimage.gaussian_filter(b4, 2)
    assert np.percentile(np.abs(hp), 99) > 150


def test_seed_reproducible_and_different(tmp_path):
    a = synthesise(tmp_path / "a", seed=11, size=128, scale=4)
    b = synthesise(tmp_path / "b", seed=11, size=128, scale=4)
    c = synthesise(tmp_path / "c", seed=12, size=128, scale=4)
    with rasterio.open(a.lr) as x, rasterio.open(b.lr) as y, rasterio.open(c.lr) as z:
        assert np.array_equal(x.read(), y.read()) and not np.array_equal(x.read(), z.read())
    assert a.shift_lr_px == b.shift_lr_px != c.shift_lr_px


def test_other_scale_keeps_grid(tmp_path):
    r = synthesise(tmp_path / "s2", seed=0, size=192, scale=3)
    with rasterio.open(r.hr) as hr, rasterio.open(r.lr) as lr:
        assert hr.res[0] == pytest.approx(10 / 3) and lr.shape == (64, 64) and hr.bounds == lr.bounds


def test_degrade_shifted_equals_degrade_of_integer_shift():
    rng = np.random.default_rng(0)
    x = rng.random((2, 64, 64)) * 1000
    s = SensorModel(4)
    a = degrade_shifted(x, s, 4, -8)
    b = s.degrade(ndimage.shift(x, (0, -8, 4), order=0, mode="mirror"))
    np.testing.assert_allclose(a[:, 3:-3, 3:-3], b[:, 3:-3, 3:-3], atol=0.5)
    np.testing.assert_allclose(degrade_shifted(x, s, 0, 0), s.degrade(x), atol=1e-3)


@pytest.mark.parametrize("size,scale,needle", [(130, 4, "--size 130"), (32, 4, "--size 32"), (256, 9, "--scale: scale 9 is not an integer")])
def test_bad_arguments(tmp_path, size, scale, needle):
    with pytest.raises(ConfigError, match=needle):
        synthesise(tmp_path / "x", size=size, scale=scale)
    assert not (tmp_path / "x").exists()


def test_unwritable_outdir(tmp_path):
    from s2sr.errors import OutputError

    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="cannot create the output folder"):
        synthesise(tmp_path / "file" / "scene", size=128)


def test_cli_empty_outdir_is_refused(tmp_path, capsys, monkeypatch):
    """`s2sr synth ""` used to write hr.tif/lr.tif/truth.json into the current folder."""
    monkeypatch.chdir(tmp_path)
    assert main(["-q", "synth", "", "--size", "64"]) == 2
    assert capsys.readouterr().err == ("s2sr synth: error: OUTDIR '': empty folder name; pass a folder such as "
                                       "scene (or . for this folder)\n")
    assert list(tmp_path.iterdir()) == []


def test_cli_synth(tmp_path, capsys):
    assert main(["synth", str(tmp_path / "s"), "--seed", "2", "--size", "128", "--scale", "4"]) == 0
    assert (tmp_path / "s" / "truth.json").is_file()
    assert main(["synth", str(tmp_path / "t"), "--size", "130"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--size 130" in err[0] and "Traceback" not in err[0]
