"""apply's checks of the input against the model's training input: scale, 8-bit, band order, pixel size."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.warp import transform as warp

from s2sr.cli.main import main
from s2sr.errors import InputError
from s2sr.evaluate.config import make_eval_config
from s2sr.evaluate.run import evaluate
from s2sr.infer import inputstats
from s2sr.infer.apply import ApplyConfig, apply_model
from s2sr.io.pixelsize import metres_per_degree

from ..conftest import S2_STATS, make_bundle

Q = dict(progress=False)
OVERRIDE = "pass --no-input-check to use it anyway"


def s2_like(shape: tuple[int, int, int] = (4, 48, 48), seed: int = 0) -> np.ndarray:
    """Seeded smooth float image whose per-band p01/p50/p99 are those of S2_STATS (B2,B3,B4,B8)."""
    rng = np.random.default_rng(seed)
    out = np.empty(shape)
    for b in range(shape[0]):
        f = rng.normal(size=shape[1:]).cumsum(0).cumsum(1)
        u = (np.argsort(np.argsort(f, axis=None)).reshape(f.shape) + 0.5) / f.size  # uniform ranks
        q = [S2_STATS[k][b] for k in ("p01", "p50", "p99")]
        out[b] = np.interp(u, [0, 0.01, 0.5, 0.99, 1], [0.8 * q[0], *q, 1.1 * q[2]])
    return out


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return make_bundle(input_stats=S2_STATS).save(tmp_path / "tiny.pt")


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def _files(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir())


def test_matching_input_passes_without_warnings(make_raster, model, tmp_path, caplog) -> None:
    src = make_raster("s2.tif", data=s2_like().astype("uint16"))
    with caplog.at_level(logging.INFO, logger="s2sr"):
        apply_model(model, src, tmp_path / "sr.tif", ApplyConfig(**Q))
    assert _warnings(caplog) == []
    assert (tmp_path / "sr.tif").is_file()


@pytest.mark.parametrize(("scale", "dtype", "what", "hint", "factor"), [
    (0.1, "uint16", "about 10x smaller", " (reflectance x 1000 instead of x 10000?)", "10"),
    (1e-4, "float32", "about 10000x smaller", " (reflectance 0..1 instead of x 10000?)", "10000"),
    (0.01, "float32", "about 100x smaller", " (reflectance in percent instead of x 10000?)", "100"),
    (10.0, "float32", "about 10x larger", "", "0.1"),
])
def test_other_scale_is_refused_and_nothing_written(make_raster, model, tmp_path, scale, dtype, what, hint,
                                                    factor) -> None:
    data = s2_like() * scale
    src = make_raster("in.tif", data=data.astype(dtype))
    med = ", ".join(f"{v:.4g}" for v in np.percentile(data.astype(dtype).reshape(4, -1), 50, axis=1))
    before = _files(tmp_path)
    with pytest.raises(InputError) as e:
        apply_model(model, src, tmp_path / "sr.tif", ApplyConfig(**Q))
    assert str(e.value) == (
        f"{src}: values are {what} than the model's training data{hint}: band medians {med} vs 1247, 1160, 1161, "
        f"2216 in the training data of model tiny (B2,B3,B4,B8); rescale it, e.g. gdal_calc.py -A {src} "
        f"--allBands=A --calc=\"A*{factor}\" --type=UInt16 --outfile=in_scaled.tif, or {OVERRIDE}")
    assert _files(tmp_path) == before


def test_scene_on_the_training_scale_but_darker_or_brighter_is_accepted(make_raster, model, tmp_path, caplog) -> None:
    """A dark (x0.4) or snow-bright (x5) scene, or processing baseline 04.00's +1000 offset, is not another scale."""
    with caplog.at_level(logging.WARNING, logger="s2sr"):
        for i, data in enumerate([s2_like() * 0.4, s2_like() * 5, s2_like() + 1000]):
            apply_model(model, make_raster(f"in{i}.tif", data=data.astype("uint16")), tmp_path / f"sr{i}.tif",
                        ApplyConfig(**Q))
    assert [m for m in _warnings(caplog) if "values" in m or "8-bit" in m] == []


@pytest.mark.parametrize(("dtype", "kind"), [("uint8", "8-bit data (uint8)"), ("uint16", "8-bit values (all <= 255)")])
def test_8bit_is_refused(make_raster, model, tmp_path, dtype, kind) -> None:
    data = np.clip(s2_like() / 16, 1, 255).astype(dtype)
    src = make_raster("rgbn.tif", data=data)
    with pytest.raises(InputError) as e:
        apply_model(model, src, tmp_path / "sr.tif", ApplyConfig(**Q))
    msg = str(e.value)
    assert msg.startswith(f"{src}: holds {kind}, band medians ")
    assert msg.endswith("in the training data of model tiny (B2,B3,B4,B8); the model needs the values it was "
                        "trained on (Sentinel-2 reflectance x 10000 as uint16): use the product's reflectance bands, "
                        f"not an 8-bit rendering, or {OVERRIDE}")
    assert not (tmp_path / "sr.tif").exists()


def test_no_input_check_applies_with_a_warning(make_raster, model, tmp_path, caplog) -> None:
    src = make_raster("in.tif", data=(s2_like() * 0.1).astype("uint16"))
    with caplog.at_level(logging.WARNING, logger="s2sr"):
        apply_model(model, src, tmp_path / "sr.tif", ApplyConfig(input_check="warn", **Q))
    (w,) = _warnings(caplog)
    assert w.startswith(f"{src}: values are about 10x smaller") and w.endswith(
        "--outfile=in_scaled.tif (--no-input-check: going on)")
    assert (tmp_path / "sr.tif").is_file()


def test_cli_refusal_is_one_line_exit_2_and_writes_nothing(make_raster, model, tmp_path, capsys, caplog) -> None:
    src = make_raster("in.tif", data=(s2_like() * 0.1).astype("uint16"))
    out = tmp_path / "sr.tif"
    before = _files(tmp_path)
    assert main(["apply", str(model), str(src), str(out)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"s2sr apply: error: {src}: values are about 10x smaller")
    assert err[0].endswith(OVERRIDE)
    assert _files(tmp_path) == before
    with caplog.at_level(logging.WARNING, logger="s2sr"):
        assert main(["-q", "apply", str(model), str(src), str(out), "--no-input-check"]) == 0
    assert out.is_file()
    assert _warnings(caplog)[0].endswith("(--no-input-check: going on)")


def test_band_order_warns_with_the_fix(make_raster, model, tmp_path, caplog) -> None:
    """B4,B3,B2,B8 given for a B2,B3,B4,B8 model: a warning naming --bands 3,2,1,4 (not a refusal)."""
    swapped = make_raster("bgr.tif", data=s2_like()[[2, 1, 0, 3]].astype("uint16"))
    with caplog.at_level(logging.WARNING, logger="s2sr"):
        apply_model(model, swapped, tmp_path / "a.tif", ApplyConfig(**Q))
    assert _warnings(caplog) == [
        f"{swapped}: the band order looks wrong: its band statistics fit the training data of model tiny much "
        "better as bands 3,2,1,4 = B2,B3,B4,B8; if so, pass --bands 3,2,1,4 (a guess from statistics: check the "
        "file's source)"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="s2sr"):
        apply_model(model, swapped, tmp_path / "b.tif", ApplyConfig(bands="3,2,1,4", **Q))
    assert _warnings(caplog) == []
    six = make_raster("six.tif", data=np.concatenate([s2_like()[[3, 0, 1, 2]], s2_like()[:2]]).astype("uint16"))
    with caplog.at_level(logging.WARNING, logger="s2sr"):
        apply_model(model, six, tmp_path / "c.tif", ApplyConfig(bands="1,2,3,4", **Q))
    assert _warnings(caplog)[-1].endswith("as bands 2,3,4,1 = B2,B3,B4,B8; if so, pass --bands 2,3,4,1 (a guess "
                                          "from statistics: check the file's source)")


def test_named_bands_settle_the_order(make_raster, model, tmp_path, caplog) -> None:
    """Band names decide when the file has them: a named swap is read by name (logged), with no name or
    statistics warning (issue 13: band order comes from band names)."""
    named = make_raster("bgr.tif", data=s2_like()[[2, 1, 0, 3]].astype("uint16"),
                        descriptions=("B04", "B03", "B02", "B08"))
    with caplog.at_level(logging.INFO, logger="s2sr"):
        apply_model(model, named, tmp_path / "a.tif", ApplyConfig(**Q))
    assert _warnings(caplog) == []
    assert f"{named}: bands 3,2,1,4 = B2,B3,B4,B8, chosen by their names (reordered)" in caplog.text


def test_older_bundle_without_stats_keeps_the_old_checks(make_raster, tmp_path, caplog) -> None:
    old = make_bundle().save(tmp_path / "old.pt")
    src = make_raster("in.tif", data=(s2_like() * 0.1).astype("uint16"), res=20.0)
    with caplog.at_level(logging.WARNING, logger="s2sr"):
        apply_model(old, src, tmp_path / "sr.tif", ApplyConfig(**Q))
    assert _warnings(caplog) == [
        f"{src}: pixel size 20 m differs from the model's training resolution 10 m; results may be poor (resample "
        f"the input to 10 m first: gdalwarp -tr 10 10 -r cubic {src} in_10m.tif)"]


def _geo(res_m: float, lon: float = 3.0, lat: float = 45.0) -> dict:
    kx, ky = metres_per_degree(lat)
    return dict(crs="EPSG:4326", res=1.0, transform=rasterio.Affine(res_m / kx, 0, lon, 0, -res_m / ky, lat))


@pytest.mark.parametrize(("kw", "expect"), [
    (dict(res=11.0), None),
    (dict(res=13.0), "warn"),
    (dict(res=20.0), "refuse"),
    (dict(res=60.0), "refuse"),
    (dict(res=5.0), "refuse"),
    (_geo(10.0), None),
    (_geo(10.0, lat=-60.0), None),
    (_geo(20.0), "refuse"),
    (dict(crs=None), None),
])
def test_pixel_size_in_metres(make_raster, model, tmp_path, caplog, kw, expect) -> None:
    src = make_raster("in.tif", data=s2_like().astype("uint16"), **kw)
    with caplog.at_level(logging.INFO, logger="s2sr"):
        if expect == "refuse":
            with pytest.raises(InputError) as e:
                apply_model(model, src, tmp_path / "sr.tif", ApplyConfig(**Q))
            msg = str(e.value)
        else:
            apply_model(model, src, tmp_path / "sr.tif", ApplyConfig(**Q))
            msg = " | ".join(_warnings(caplog))
    if expect is None:
        assert msg == ""
    elif expect == "warn":
        assert msg == (f"{src}: pixel size 13 m differs from the model's training resolution 10 m; results may be "
                       f"poor (resample the input to 10 m first: gdalwarp -tr 10 10 -r cubic {src} in_10m.tif)")
    elif kw.get("crs") == "EPSG:4326":
        assert msg == (f"{src}: pixel size about 20 m is 2x the 10 m model tiny was trained for (a 20 m or 60 m band "
                       "stack?); super-resolve 10 m bands, or resample it first: gdalwarp -t_srs EPSG:32631 -tr 10 10 "
                       f"-r cubic {src} in_10m.tif, or {OVERRIDE}")
    elif kw["res"] == 5.0:
        assert msg == (f"{src}: pixel size 5 m is 1/2 of the 10 m model tiny was trained for; super-resolve 10 m "
                       f"bands, or resample it first: gdalwarp -tr 10 10 -r average {src} in_10m.tif, or {OVERRIDE}")
    else:
        assert msg.startswith(f"{src}: pixel size {kw['res']:g} m is {kw['res'] / 10:g}x the 10 m model tiny")
    if kw.get("crs", "x") is None:
        infos = [r.getMessage() for r in caplog.records if "no CRS" in r.getMessage()]
        assert infos == [f"{src}: no CRS; the output keeps its pixel grid (1 input pixel = 4 x 4 output pixels); "
                         "its pixel size is unknown, so it is not checked against the 10 m the model is for"]
    assert (tmp_path / "sr.tif").exists() == (expect != "refuse")


def test_web_mercator_at_60_degrees_is_10_m_on_the_ground(make_raster, model, tmp_path, caplog) -> None:
    """20 Web Mercator units at 60 N are 10 m: no warning (the CRS units alone would say 2x)."""
    x, y = warp("EPSG:4326", "EPSG:3857", [10.0], [60.0])
    src = make_raster("merc.tif", data=s2_like().astype("uint16"), crs="EPSG:3857", res=20.0,
                      origin=(x[0], y[0]))
    with caplog.at_level(logging.WARNING, logger="s2sr"):
        apply_model(model, src, tmp_path / "sr.tif", ApplyConfig(**Q))
    assert _warnings(caplog) == []


def test_sample_is_bounded_and_skips_nodata(make_raster, monkeypatch) -> None:
    """Large images: WINDOWS x WINDOWS windows (or an overview); nodata and all-zero fill pixels never count."""
    monkeypatch.setattr(inputstats, "SAMPLE_PIXELS", 1024)
    data = s2_like((4, 256, 256)).astype("uint16")
    data[:, :, :64] = 0  # a nodata edge
    src = make_raster("big.tif", data=data, nodata=0, tiled=True, blockxsize=64, blockysize=64)
    with rasterio.open(src) as ds:
        px = inputstats.sample_pixels(ds, [1, 2, 3, 4])
    side = int(math.sqrt(1024) / inputstats.WINDOWS)
    assert 0 < px.shape[1] <= inputstats.WINDOWS**2 * side**2 and (px > 0).all()
    unflagged = make_raster("fill.tif", data=data, nodata=None)
    with rasterio.open(unflagged, "r+") as ds:
        ds.build_overviews([2, 4, 8])
    with rasterio.open(unflagged) as ds:
        px = inputstats.sample_pixels(ds, [1, 2, 3, 4])
    assert 0 < px.shape[1] <= 1024 and (px.min(axis=0) > 0).all()


def test_evaluate_refuses_before_writing(make_raster, model, tmp_path, capsys) -> None:
    img = make_raster("img.tif", data=(s2_like((4, 64, 64)) * 0.1).astype("uint16"), nodata=None)
    with pytest.raises(InputError, match=r"values are about 10x smaller"):
        evaluate(make_eval_config(model=model, wald=img, out=tmp_path / "ev", tile=16, progress=False))
    assert not (tmp_path / "ev").exists()
    assert main(["evaluate", "--model", str(model), "--wald", str(img), "--out", str(tmp_path / "ev")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"s2sr evaluate: error: {img}: values are about 10x smaller")
    assert _files(tmp_path) == ["img.tif", "tiny.pt"]
    res = evaluate(make_eval_config(model=model, wald=img, out=tmp_path / "ev", tile=16, progress=False,
                                    input_check=False))
    assert res.metrics_path.is_file()


def test_evaluate_warns_once_about_band_order(make_raster, model, tmp_path, caplog) -> None:
    """evaluate checks the image it is given once; its internal apply of the degraded copy does not repeat it."""
    img = make_raster("bgr.tif", data=s2_like((4, 64, 64))[[2, 1, 0, 3]].astype("uint16"), nodata=None)
    with caplog.at_level(logging.WARNING, logger="s2sr"):
        evaluate(make_eval_config(model=model, wald=img, out=tmp_path / "ev", tile=16, progress=False))
    assert [m for m in _warnings(caplog) if "band order" in m] == [
        f"{img}: the band order looks wrong: its band statistics fit the training data of model tiny much better as "
        "bands 3,2,1,4 = B2,B3,B4,B8; if so, pass --bands 3,2,1,4 (a guess from statistics: check the file's source)"]
