"""Dask (local cluster) gives the local result; the ONNX backend matches torch fp32."""

from __future__ import annotations

import json
import os

import numpy as np
import onnx
import pytest
import rasterio

from s2sr.errors import ConfigError, ModelError
from s2sr.infer.apply import ApplyConfig, apply_model
from s2sr.infer.backends import ONNX_META_KEY, read_onnx_meta
from s2sr.infer.export import export_onnx


def _read(p):
    with rasterio.open(p) as ds:
        return ds.read()


@pytest.mark.slow
def test_dask_local_cluster_equals_local(make_raster, bicubic_pt, tmp_path):
    data = np.full((4, 45, 38), 2000, np.uint16)
    data += np.arange(38, dtype=np.uint16)[None, None] * 20
    data[:, 30:, :] = 0  # all-nodata tiles travel back from workers too
    src = make_raster(data=data, nodata=0)
    local, dask = tmp_path / "local.tif", tmp_path / "dask.tif"
    opts = dict(tile=10, overlap=4, progress=False)
    apply_model(bicubic_pt, src, local, ApplyConfig(**opts))
    res = apply_model(bicubic_pt, src, dask, ApplyConfig(dask="local:2", **opts))
    assert res.tiles_computed == 20 and res.tiles_skipped_nodata >= 4
    assert np.array_equal(_read(local), _read(dask))
    assert local.read_bytes() == dask.read_bytes()
    # an existing scheduler, by address (in-process workers keep this part fast)
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as cluster:
        addr = tmp_path / "addr.tif"
        apply_model(bicubic_pt, src, addr, ApplyConfig(dask=cluster.scheduler_address, **opts))
    assert local.read_bytes() == addr.read_bytes()


def test_dask_address_errors(make_raster, bicubic_pt, tmp_path):
    src = make_raster(shape=(4, 8, 8))
    with pytest.raises(ConfigError) as e:
        apply_model(bicubic_pt, src, tmp_path / "o.tif", ApplyConfig(dask="local:x", progress=False))
    assert str(e.value) == "--dask 'local:x': expected local:N with N >= 1 workers, e.g. local:2"


def test_export_carries_metadata_and_onnx_equals_torch(make_raster, tiny_conv, tmp_path):
    onnx_path = export_onnx(tiny_conv, tmp_path / "m.onnx")
    meta = read_onnx_meta(onnx_path)
    assert meta["arch"] == "tinyconv" and meta["scale"] == 4 and meta["bands"] == ["B2", "B3", "B4", "B8"]
    assert meta["receptive_field"] == 5 and meta["norm"]["mean"] == [1500.0] * 4
    src = make_raster(shape=(4, 30, 27), nodata=None)
    a, b = tmp_path / "torch.tif", tmp_path / "onnx.tif"
    opts = dict(tile=12, overlap=4, out_dtype="float32", progress=False)
    apply_model(tiny_conv, src, a, ApplyConfig(**opts))
    res = apply_model(onnx_path, src, b, ApplyConfig(backend="onnx", **opts))
    assert res.backend == "onnx"
    ya, yb = _read(a), _read(b)
    assert np.abs(ya - yb).max() < 1e-2 and np.abs(ya).max() > 500
    with rasterio.open(b) as ds:
        assert ds.tags()["S2SR_BACKEND"] == "onnx"


def test_onnx_backend_exports_a_pt_on_the_fly(make_raster, bicubic_pt, tmp_path):
    src = make_raster(shape=(4, 16, 16))
    a, b = tmp_path / "a.tif", tmp_path / "b.tif"
    apply_model(bicubic_pt, src, a, ApplyConfig(tile=8, overlap=2, progress=False))
    apply_model(bicubic_pt, src, b, ApplyConfig(tile=8, overlap=2, backend="onnx", progress=False))
    assert np.abs(_read(a).astype(int) - _read(b).astype(int)).max() <= 1


def test_onnx_errors(bicubic_pt, tmp_path, make_raster):
    src = make_raster(shape=(4, 8, 8))
    plain = tmp_path / "plain.onnx"
    m = onnx.load(str(export_onnx(bicubic_pt, tmp_path / "x.onnx")))
    del m.metadata_props[:]
    onnx.save(m, str(plain))
    with pytest.raises(ModelError) as e:
        read_onnx_meta(plain)
    assert str(e.value) == f"{plain}: ONNX file has no s2sr metadata; export it with `s2sr export`"
    with pytest.raises(ModelError) as e:
        apply_model(tmp_path / "x.onnx", src, tmp_path / "o.tif", ApplyConfig(progress=False))
    assert str(e.value) == f"{tmp_path / 'x.onnx'}: is an ONNX file; pass --backend onnx or the .pt bundle"
    with pytest.raises(ConfigError) as e:
        apply_model(tmp_path / "x.onnx", src, tmp_path / "o.tif",
                    ApplyConfig(backend="onnx", precision="bf16", progress=False))
    assert str(e.value) == "--precision bf16: the onnx backend runs fp32 only; use --precision fp32"
    meta = json.loads({p.key: p.value for p in onnx.load(str(tmp_path / "x.onnx")).metadata_props}[ONNX_META_KEY])
    assert "state_dict" not in meta


def test_cli_dask_prints_only_s2sr_lines(make_raster, bicubic_pt, tmp_path):
    """--dask local:2 on a pixel grid: no rasterio warning from the workers in the progress bar, no Dask
    shutdown chatter ("Worker process still alive after 4.0 seconds, killing") (issue 13, item 13)."""
    import re
    import subprocess
    import sys

    src = make_raster("grid.tif", crs=None, res=1.0, origin=(0.0, 0.0), shape=(4, 200, 200), nodata=None)
    out = tmp_path / "o.tif"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-m", "s2sr", "apply", str(bicubic_pt), str(src), str(out), "--dask",
                        "local:2", "--tile", "64"], capture_output=True, text=True, env=env, timeout=240)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [ln for ln in re.split(r"[\r\n]+", r.stderr) if ln.strip()]
    bars = [ln for ln in lines if ln.startswith("s2sr apply grid.tif:")]
    others = [ln for ln in lines if ln not in bars]
    assert bars and all(ln.startswith("INFO s2sr: ") for ln in others), others
    assert not re.search(r"Warning|DatasetReader|still alive|distributed", r.stderr)
