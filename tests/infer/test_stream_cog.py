"""apply writes its COG from blocks encoded while streaming: overviews, thread splits, resume, scratch size."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch

from s2sr.errors import ConfigError, OutputError
from s2sr.infer import apply as apply_mod
from s2sr.infer import local
from s2sr.infer.apply import ApplyConfig, apply_model
from s2sr.infer.blocks import halve
from s2sr.infer.budget import Budget, plan_budget, usable_cores
from s2sr.io.cog import cog_problems

Q = dict(progress=False)


def _levels(path: Path) -> list[np.ndarray]:
    with rasterio.open(path) as ds:
        out = [ds.read()]
        n = len(ds.overviews(1))
    for k in range(n):
        with rasterio.open(path, overview_level=k) as ov:
            out.append(ov.read())
    return out


def test_overviews_are_the_2x2_means_of_the_full_resolution(make_raster, tiny_conv, tmp_path):
    data = np.random.default_rng(0).integers(300, 3000, (4, 300, 280)).astype(np.uint16)
    data[:, 100:140, 30:90] = 0  # nodata
    src = make_raster(data=data, nodata=0)
    out = tmp_path / "sr.tif"
    apply_model(tiny_conv, src, out, ApplyConfig(tile=64, overlap=8, **Q))
    levels = _levels(out)
    assert [lv.shape[1:] for lv in levels] == [(1200, 1120), (600, 560), (300, 280)]
    ref = np.moveaxis(levels[0], 0, -1)
    for lv in levels[1:]:
        ref = halve(ref, 0)
        assert np.array_equal(lv, np.moveaxis(ref, -1, 0))
    assert (levels[1][:, 220:260, 140:160] == 0).all()  # nodata survives in the overviews
    assert cog_problems(out) == []


def test_thread_splits_give_the_same_bytes(make_raster, tiny_conv_per_tile, tmp_path, monkeypatch):
    """One worker, two workers, and the GPU-style split (one model worker in batches, output work on
    separate threads) write the same file: every tile runs the model on one thread either way. The
    model runs each tile of a batch alone, so what is checked is the pipeline, not whether the CPU's
    conv kernels round a batch as they round one tile (they do not on every CPU)."""
    tiny_conv = tiny_conv_per_tile
    src = make_raster(shape=(4, 150, 170), seed=4)
    outs = []
    for i, opts in enumerate([dict(threads=1), dict(threads=2, workers=2)]):
        outs.append(tmp_path / f"o{i}.tif")
        res = apply_model(tiny_conv, src, outs[-1], ApplyConfig(tile=32, overlap=8, **opts, **Q))
        assert res.budget is not None and res.budget.model_threads == 1
    monkeypatch.setattr(apply_mod, "plan_budget", lambda *a, **k: Budget(3, 1, 1, 2, 3))
    outs.append(tmp_path / "gpu_style.tif")
    apply_model(tiny_conv, src, outs[-1], ApplyConfig(tile=32, overlap=8, **Q))
    ref = outs[0].read_bytes()
    assert all(p.read_bytes() == ref for p in outs[1:])


def test_resume_after_a_failure_mid_stream_is_bit_identical(make_raster, tiny_conv, tmp_path, monkeypatch):
    """Blocks stored before the failure are kept; their overview parents are rebuilt from the store."""
    src = make_raster(shape=(4, 400, 330), seed=2)
    ref, out = tmp_path / "ref.tif", tmp_path / "out.tif"
    opts = dict(tile=24, overlap=4, threads=1, **Q)
    full = apply_model(tiny_conv, src, ref, ApplyConfig(**opts))
    real = local.predict_tiles
    calls = {"n": 0}

    def failing(*a, **k):
        calls["n"] += 1
        if calls["n"] > 150:  # after 150 of the 238 tiles
            raise RuntimeError("power cut")
        return real(*a, **k)

    monkeypatch.setattr(local, "predict_tiles", failing)
    monkeypatch.setattr("s2sr.infer.blockstore.BlockStore.sync_every_s", 0.0)
    with pytest.raises(RuntimeError, match="power cut"):
        apply_model(tiny_conv, src, out, ApplyConfig(**opts))
    monkeypatch.setattr(local, "predict_tiles", real)
    journal = tmp_path / ".out.tif.partial.jsonl"
    stored = sum(len(json.loads(line)["blocks"]) for line in journal.read_text().splitlines()[1:] if line)
    assert not out.exists() and 0 < stored < 17  # 4x3 + 2x2 + 1 blocks of 512 px
    res = apply_model(tiny_conv, src, out, ApplyConfig(resume=True, **opts))
    assert res.blocks_resumed == stored and 0 < res.tiles_computed < full.tiles_computed
    assert out.read_bytes() == ref.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_scratch_is_the_compressed_size_and_codecs_agree(make_raster, tiny_conv, tmp_path):
    src = make_raster(shape=(4, 260, 200), seed=5)
    z, d = tmp_path / "z.tif", tmp_path / "d.tif"
    rz = apply_model(tiny_conv, src, z, ApplyConfig(**Q))
    rd = apply_model(tiny_conv, src, d, ApplyConfig(compress="DEFLATE", compress_level=6, **Q))
    for r, p in ((rz, z), (rd, d)):
        assert r.cog_bytes == p.stat().st_size
        # the store holds the tiles only; the COG adds its header, IFDs (with GDAL_METADATA: descriptions, colour
        # interpretation, source and s2sr tags) and 8 bytes around each tile
        assert 0 < r.cog_bytes - r.scratch_bytes < 4000 + 8 * 3
    uncompressed = 4 * 1040 * 800 * 2
    assert rz.scratch_bytes < 0.8 * uncompressed
    with rasterio.open(z) as a, rasterio.open(d) as b:
        assert a.compression.name.upper() == "ZSTD" and b.compression.name.upper() == "DEFLATE"
        assert np.array_equal(a.read(), b.read())


def test_resume_refuses_another_codec(make_raster, bicubic_pt, tmp_path, monkeypatch):
    src = make_raster(shape=(4, 64, 64))
    out = tmp_path / "o.tif"
    monkeypatch.setattr(local, "predict_tiles", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("stop")))
    with pytest.raises(RuntimeError):
        apply_model(bicubic_pt, src, out, ApplyConfig(tile=16, overlap=4, **Q))
    with pytest.raises(OutputError, match="belongs to a different run"):
        apply_model(bicubic_pt, src, out, ApplyConfig(tile=16, overlap=4, compress="DEFLATE", resume=True, **Q))


def test_thread_budget_defaults_and_errors():
    assert plan_budget(threads=4) == Budget(4, 4, 1, 0, 1)
    assert plan_budget(threads=4, workers=2) == Budget(4, 2, 2, 0, 1)
    assert plan_budget(threads=2, device="cuda") == Budget(2, 1, 1, 1, 4)
    assert plan_budget(threads=4, tiles=1) == Budget(4, 1, 4, 0, 1)  # one tile: all threads in its model
    assert plan_budget().threads == usable_cores()
    with pytest.raises(ConfigError, match="--threads 0: must be at least 1"):
        ApplyConfig(threads=0)
    with pytest.raises(ConfigError, match="--compress-level 40: ZSTD takes 1..22"):
        ApplyConfig(compress_level=40)


def test_torch_threads_are_given_back(make_raster, bicubic_pt, tmp_path):
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        apply_model(bicubic_pt, make_raster(shape=(4, 32, 32)), tmp_path / "o.tif", ApplyConfig(threads=2, **Q))
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
