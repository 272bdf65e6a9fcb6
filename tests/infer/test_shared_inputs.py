"""apply's input checks on real Sentinel-2 L1C cities (OSCD; skipped without S2SR_SHARED_DATA).

The model's training statistics are computed here the way training does (pooled percentiles of
the input) from ten OSCD cities; the city under test (Nantes, 2017) is not one of them.
"""

from __future__ import annotations

import glob
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

from s2sr.infer.apply import ApplyConfig, apply_model
from s2sr.infer.inputstats import likely_band_order, sample_pixels, scale_problem, value_stats
from s2sr.io.raster import open_raster

from ..conftest import make_bundle

pytestmark = pytest.mark.shared_data

TRAIN = ["abudhabi_20160120", "beihai_20161209", "bordeaux_20160504", "chongqing_20170414", "cupertino_20150918",
         "lasvegas_20150820", "montpellier_20150812", "mumbai_20151130", "pisa_20150704", "saclay_e_20160315"]
CITY = "nantes_20171014"


@pytest.fixture(scope="module")
def train_table() -> np.ndarray:
    from ..conftest import shared_data_dir

    d = shared_data_dir() / "oscd"
    if not d.is_dir():
        pytest.skip(f"OSCD samples not found at {d}; set S2SR_SHARED_DATA to the shared data folder")
    rng = np.random.default_rng(0)
    parts = []
    for c in TRAIN:
        with rasterio.open(d / f"{c}.tif") as ds:
            a = ds.read().reshape(ds.count, -1)
        parts.append(a[:, rng.choice(a.shape[1], 50_000, replace=False)].astype(np.float32))
    return np.stack(np.percentile(np.concatenate(parts, axis=1), [1, 50, 99], axis=1))


@pytest.fixture
def model(train_table, tmp_path) -> Path:
    stats = {k: [float(v) for v in train_table[i]] for i, k in enumerate(("p01", "p50", "p99"))}
    return make_bundle(input_stats=stats, input_res=10.0).save(tmp_path / "s2.pt")


def _copy(src: Path, dst: Path, fn=lambda a: a, dtype: str | None = None, order=(0, 1, 2, 3),
          names: bool = False) -> Path:
    """A modified copy of ``src`` (same grid and CRS): values fn(a), band order, dtype, names dropped or kept."""
    with rasterio.open(src) as ds:
        a, prof, desc = ds.read(), ds.profile, ds.descriptions
    out = fn(a.astype(np.float64))[list(order)]
    prof.update(dtype=dtype or prof["dtype"], nodata=None)
    with rasterio.open(dst, "w", **prof) as d:
        d.write(out.astype(prof["dtype"]))
        if names:
            d.descriptions = tuple(desc[i] for i in order)
    return dst


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "s2sr", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def _not_info(stderr: str) -> list[str]:
    """stderr without INFO lines (the band choice is logged before the error: unnamed bands, by position)."""
    return [ln for ln in stderr.splitlines() if not ln.startswith("INFO s2sr:")]


def test_real_city_in_epsg4326_passes_without_warnings(shared_data, model, tmp_path, caplog) -> None:
    """As shipped (named bands, EPSG:4326 box, non-square ~8.5 x 12.5 m pixels) and without its band names."""
    city = shared_data / "oscd" / f"{CITY}.tif"
    with rasterio.open(city) as ds:
        assert ds.crs.to_epsg() == 4326
    bare = _copy(city, tmp_path / "bare.tif")
    with caplog.at_level(logging.WARNING, logger="s2sr"):
        for i, src in enumerate((city, bare)):
            apply_model(model, src, tmp_path / f"sr{i}.tif", ApplyConfig(window=(0, 0, 48, 48), progress=False))
    assert _warnings(caplog) == []


def test_real_city_x01_is_refused_by_the_cli(shared_data, model, tmp_path) -> None:
    src = _copy(shared_data / "oscd" / f"{CITY}.tif", tmp_path / "x1000.tif", lambda a: a * 0.1)
    out = tmp_path / "out" / "sr.tif"
    out.parent.mkdir()
    r = _cli("apply", str(model), str(src), str(out))
    assert r.returncode == 2
    (line,) = _not_info(r.stderr)
    assert line.startswith(f"s2sr apply: error: {src}: values are about 10x smaller than the model's training "
                           "data (reflectance x 1000 instead of x 10000?)")
    assert "--calc=\"A*10\"" in line and line.endswith("or pass --no-input-check to use it anyway")
    assert list(out.parent.iterdir()) == []


def test_real_city_as_uint8_is_refused(shared_data, model, tmp_path) -> None:
    src = _copy(shared_data / "oscd" / f"{CITY}.tif", tmp_path / "u8.tif", lambda a: np.clip(a / 16, 0, 255), "uint8")
    out = tmp_path / "out" / "sr.tif"
    out.parent.mkdir()
    r = _cli("apply", str(model), str(src), str(out))
    assert r.returncode == 2
    (line,) = _not_info(r.stderr)
    assert line.startswith(f"s2sr apply: error: {src}: holds 8-bit data (uint8)")
    assert list(out.parent.iterdir()) == []


def test_real_city_reordered_warns_with_the_bands_fix(shared_data, model, tmp_path, caplog) -> None:
    src = _copy(shared_data / "oscd" / f"{CITY}.tif", tmp_path / "bgr.tif", order=(2, 1, 0, 3))
    with caplog.at_level(logging.WARNING, logger="s2sr"):
        apply_model(model, src, tmp_path / "a.tif", ApplyConfig(window=(0, 0, 48, 48), progress=False))
    assert _warnings(caplog) == [
        f"{src}: the band order looks wrong: its band statistics fit the training data of model s2 much better as "
        "bands 3,2,1,4 = B2,B3,B4,B8; if so, pass --bands 3,2,1,4 (a guess from statistics: check the file's source)"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="s2sr"):
        apply_model(model, src, tmp_path / "b.tif", ApplyConfig(bands="3,2,1,4", window=(0, 0, 48, 48),
                                                                 progress=False))
    assert _warnings(caplog) == []


def test_every_real_sample_in_true_order_is_accepted(shared_data, train_table) -> None:
    """No scale refusal and no band-order warning on any real S2 sample in its true order (40 OSCD
    cities, DSen2 farmland/dunes, eo-learn fields); B4,B3,B2,B8 is recognised on >= 90 % of the cities."""
    files = sorted(glob.glob(str(shared_data / "oscd" / "*.tif")))
    others = sorted(glob.glob(str(shared_data / "dsen2" / "*.tif"))) + sorted(glob.glob(str(shared_data / "eolearn" / "*.tif")))
    assert len(files) == 40
    found = 0
    for f in files + others:
        with open_raster(f) as ds:  # s2sr's reader: the DSen2 pixel grids open without rasterio's warning
            seen = value_stats(sample_pixels(ds, [1, 2, 3, 4]))
            dtype = ds.dtypes[0]
        assert seen is not None
        assert scale_problem(seen, train_table, dtype) is None, f
        assert likely_band_order(seen, train_table) is None, f
        if f in files:
            bgr = type(seen)(seen.p01[[2, 1, 0, 3]], seen.p50[[2, 1, 0, 3]], seen.p99[[2, 1, 0, 3]], seen.vmax,
                             seen.pixels)
            found += likely_band_order(bgr, train_table) == (2, 1, 0, 3)
    assert found >= 36, found
