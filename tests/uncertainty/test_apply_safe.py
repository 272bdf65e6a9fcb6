"""apply --safe: the SR's detail over bicubic shrunk where the predicted error exceeds it."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from s2sr.bundle import load_model
from s2sr.cli.main import main
from s2sr.infer.apply import ApplyConfig, apply_model
from s2sr.infer.safe import bicubic, safe_detail
from s2sr.uncertainty.section import head_of


def _read(p):
    with rasterio.open(p) as ds:
        return ds.read()


def test_gain_keeps_large_detail_and_drops_small_detail() -> None:
    base = np.full((1, 1, 1, 4), 1000.0, np.float32)
    sr = base + np.array([400.0, 10.0, -400.0, 0.0], np.float32)
    h = np.array([100.0, 100.0, 100.0, 0.0], np.float32)
    out = safe_detail(sr, base, h, strength=0.5)
    # gain d^2 / (d^2 + 50^2): 400 -> 0.9846, 10 -> 0.0385; no detail and no error: the SR as it is
    np.testing.assert_allclose(out.ravel(), [1000 + 400 * 160000 / 162500, 1000 + 10 * 100 / 2600,
                                             1000 - 400 * 160000 / 162500, 1000], rtol=1e-6)
    assert np.all(np.abs(out - base) <= np.abs(sr - base))


def test_safe_output_is_the_formula_over_the_whole_image(make_raster, headed_pt, tmp_path) -> None:
    """Tiled and blended, --safe gives the whole-image value of bicubic + gain x detail (away from the
    scene edges), the SR file says so, and the uncertainty file is the same as without --safe."""
    src = make_raster("in.tif", shape=(4, 96, 84), seed=4, nodata=None)
    opts = dict(tile=20, overlap=4, progress=False, uncertainty=True, out_dtype="float32")
    plain = apply_model(headed_pt, src, tmp_path / "plain.tif", ApplyConfig(**opts))
    safe = apply_model(headed_pt, src, tmp_path / "safe.tif", ApplyConfig(safe=True, **opts))
    bundle = load_model(headed_pt)
    lr = _read(src).astype(np.float32)
    sr = bundle.predict(lr)
    h = head_of(bundle).half_width(lr[None], sr[None], 0.9, bundle.mean, bundle.std)[0]
    want = safe_detail(sr, bicubic(lr[None], 4)[0], h, 0.5)
    got = _read(safe.path)
    e = 4 * max(bundle.receptive_field, head_of(bundle).receptive_field, 2)
    inner = (slice(None), slice(e, -e), slice(e, -e))
    np.testing.assert_allclose(got[inner], want[inner], rtol=1e-3, atol=0.05)
    # the detail did shrink, and only shrink
    base = bicubic(lr[None], 4)[0][inner]
    detail_sr = np.abs(_read(plain.path)[inner] - base)
    detail_safe = np.abs(got[inner] - base)
    assert np.all(detail_safe <= detail_sr + 1e-2) and detail_safe.mean() < 0.9 * detail_sr.mean()
    assert np.array_equal(_read(plain.uncertainty_path), _read(safe.uncertainty_path))
    with rasterio.open(safe.path) as ds, rasterio.open(plain.path) as p:
        assert ds.tags()["S2SR_SAFE"].startswith("detail over bicubic d kept as d * d^2 / (d^2 + (0.5 h)^2)")
        assert "S2SR_SAFE" not in p.tags()
        assert ds.tags()["S2SR_RUN"] != p.tags()["S2SR_RUN"]


def test_safe_without_the_uncertainty_file(make_raster, headed_pt, tmp_path, capsys) -> None:
    src = make_raster("in.tif", shape=(4, 40, 36), seed=2, nodata=None)
    out = tmp_path / "sr.tif"
    assert main(["-q", "apply", str(headed_pt), str(src), str(out), "--safe", "--safe-strength", "0.25",
                 "--tile", "32"]) == 0
    assert capsys.readouterr().out.split() == [str(out)]
    assert not (tmp_path / "sr.uncertainty.tif").exists()
    with rasterio.open(out) as ds:
        assert ds.count == 4 and "(0.25 h)^2" in ds.tags()["S2SR_SAFE"]


def test_safe_errors_are_one_line_and_write_nothing(make_raster, bicubic_pt, headed_pt, tmp_path, capsys) -> None:
    src = make_raster("in.tif", shape=(4, 40, 36), seed=2, nodata=None)
    out = tmp_path / "o.tif"
    cases = [
        ([str(bicubic_pt), "--safe"], f"--safe: model {bicubic_pt} has no uncertainty head; attach one"),
        ([str(headed_pt), "--safe", "--safe-strength", "0"], "--safe-strength 0: must be > 0"),
    ]
    for args, msg in cases:
        rc = main(["-q", "apply", args[0], str(src), str(out), *args[1:]])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and "\n" not in err and msg in err, err
    assert not list(tmp_path.glob("o*")) and not list(tmp_path.glob(".o*"))


def test_dask_equals_local(make_raster, headed_pt, tmp_path) -> None:
    pytest.importorskip("distributed")
    from distributed import LocalCluster

    src = make_raster("in.tif", shape=(4, 40, 36), seed=2, nodata=None)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        for unc in (False, True):
            opts = dict(tile=24, overlap=6, progress=False, safe=True, uncertainty=unc)
            apply_model(headed_pt, src, tmp_path / f"local{unc}.tif", ApplyConfig(**opts))
            apply_model(headed_pt, src, tmp_path / f"dask{unc}.tif", ApplyConfig(dask=cluster.scheduler_address, **opts))
            assert (tmp_path / f"local{unc}.tif").read_bytes() == (tmp_path / f"dask{unc}.tif").read_bytes()
    assert np.array_equal(_read(tmp_path / "localTrue.uncertainty.tif"), _read(tmp_path / "daskTrue.uncertainty.tif"))
    assert np.array_equal(_read(tmp_path / "localTrue.tif"), _read(tmp_path / "localFalse.tif"))


def test_evaluate_scores_the_safe_output(make_raster, bicubic_pt, headed_pt, tmp_path, capsys) -> None:
    """`s2sr evaluate --safe` scores what `apply --safe` gives users (Wald mode here); no coverage section
    then (the half-widths are the plain SR's); a model without a head is a one-line error."""
    import json

    img = make_raster("img.tif", shape=(4, 96, 96), seed=5, nodata=None)
    runs = {}
    for name, extra in (("plain", []), ("safe", ["--safe"])):
        out = tmp_path / name
        assert main(["-q", "evaluate", "--model", str(headed_pt), "--wald", str(img), "--out", str(out),
                     "--no-opensr", "--no-input-check", *extra]) == 0
        runs[name] = json.loads((out / "metrics.json").read_text())
    assert runs["safe"]["sr"]["safe"] is True and "safe" not in runs["plain"]["sr"]
    assert "uncertainty" in runs["plain"] and "uncertainty" not in runs["safe"]
    psnr = {k: v["methods"]["model"]["overall"]["psnr"] for k, v in runs.items()}
    assert psnr["safe"] != psnr["plain"]
    assert runs["safe"]["methods"]["bicubic"] == runs["plain"]["methods"]["bicubic"]
    capsys.readouterr()
    rc = main(["-q", "evaluate", "--model", str(bicubic_pt), "--wald", str(img), "--out", str(tmp_path / "x"),
               "--safe", "--no-input-check"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err and "--safe: model" in err and "has no uncertainty head" in err
    assert not (tmp_path / "x").exists()


def test_nodata_stays_where_the_plain_output_has_it(make_raster, headed_pt, tmp_path) -> None:
    data = (1500 + 600 * np.random.default_rng(3).random((4, 50, 45))).astype(np.uint16)
    data[:, :6, :9] = 0  # a nodata corner
    src = make_raster("in.tif", data=data, nodata=0)
    plain = apply_model(headed_pt, src, tmp_path / "plain.tif", ApplyConfig(tile=32, progress=False))
    safe = apply_model(headed_pt, src, tmp_path / "safe.tif", ApplyConfig(tile=32, progress=False, safe=True))
    p, s = _read(plain.path), _read(safe.path)
    assert np.array_equal(p == 0, s == 0) and (s[:, :24, :36] == 0).all() and (s[:, 30:, 40:] > 0).all()
    assert not np.array_equal(p, s)


def test_the_device_path_equals_the_numpy_path() -> None:
    """The path the predictor runs (bicubic and gain in one torch call on the model's device) equals the
    formula written out here in numpy over F.interpolate's bicubic, independent of s2sr.infer.safe's
    helpers (on the CPU here; tests/test_gpu.py runs the same path on CUDA)."""
    import torch

    from s2sr.infer.safe import safe_detail_on

    rng = np.random.default_rng(0)
    x = rng.uniform(500, 3000, (2, 4, 10, 12)).astype(np.float32)
    sr = bicubic(x, 4) + rng.normal(0, 80, (2, 4, 40, 48)).astype(np.float32)
    h = rng.uniform(0, 200, sr.shape).astype(np.float32)
    h[0, 0, :5] = 0
    sr[0, 0, :2] = bicubic(x, 4)[0, 0, :2]  # no detail and, on the first 2 rows, no error: kept as it is
    base = torch.nn.functional.interpolate(torch.from_numpy(x), scale_factor=4, mode="bicubic",
                                           align_corners=False).numpy()
    d = sr - base
    den = d * d + np.square(0.5 * h)
    want = base + d * np.divide(d * d, den, out=np.ones_like(den), where=den > 0)
    np.testing.assert_allclose(safe_detail_on("cpu", x, sr, h, 0.5), want, rtol=1e-5, atol=1e-2)
