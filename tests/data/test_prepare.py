"""prepare on generated data: grid alignment, store content, split disjointness, footprint, json."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.warp import transform as warp_transform
from rasterio.windows import Window

from s2sr.cli.main import main
from s2sr.data.config import PrepareConfig
from s2sr.data.pairs import overlap_window
from s2sr.data.prepare import prepare
from s2sr.data.sampling import Block, cut_blocks, place_patches
from s2sr.data.store import SPLITS, open_split
from s2sr.io.raster import read_info
from s2sr.sensor import SensorModel


def _index(root, split):
    with open(root / "store" / split / "index.csv", newline="") as f:
        return list(csv.DictReader(f))


# ---- grid and window math ----------------------------------------------------------------
def test_overlap_window_rounds_inward_at_edges(make_raster):
    lr = read_info(make_raster("lr.tif", shape=(4, 23, 37), origin=(300000.0, 5000000.0)))
    # HR starts 1.25 LR px east and 2.5 LR px south of the LR corner, ends past the LR edge
    hr = read_info(make_raster("hr.tif", res=2.5, shape=(4, 200, 200), origin=(300012.5, 4999975.0)))
    w = overlap_window(lr, hr, hr.bounds, patch=4)
    assert w == Window(2, 3, 35, 20)


def test_cut_blocks_and_patch_placement_at_odd_sizes():
    blocks = cut_blocks(Window(3, 5, 75, 41), 32)
    assert [(int(b.window.width), int(b.window.height)) for b in blocks] == [(32, 32), (32, 32), (11, 32), (32, 9), (32, 9), (11, 9)]
    assert blocks[0].window.col_off == 3 and blocks[-1].window.row_off == 37
    cfg = PrepareConfig(pairs=[("a", "b")], scale=4, out="o", patch_size=8, split_gap=2)
    b = [Block(Window(0, 0, 20, 20), "train"), Block(Window(20, 0, 20, 20), "val")]
    place_patches(b, cfg, np.random.default_rng(0))
    assert b[0].patches == [(2, 2), (2, 10), (10, 2), (10, 10)]  # centred, whole patches only
    assert b[1].patches == [(2, 22), (2, 30), (10, 22), (10, 30)]  # val: 2 px inset, 16 px usable
    # every val patch is >= gap from its block edge
    for r, c in b[1].patches:
        assert c - 20 >= 2 and 40 - (c + 8) >= 2 and r >= 2 and 20 - (r + 8) >= 2


def test_hr_patches_are_the_hr_pixels_on_the_fine_grid(make_raster, tmp_path):
    """HR already on the fine grid (odd LR size, HR covering part of it): patches copy it exactly."""
    lr = make_raster("lr.tif", shape=(4, 29, 37), origin=(300000.0, 5000000.0), seed=1)
    hr = make_raster("hr.tif", res=2.5, shape=(4, 100, 120), origin=(300020.0, 4999970.0), seed=2)
    res = prepare(PrepareConfig(pairs=[(lr, hr)], scale=4, patch_size=8, out=tmp_path / "ds",
                                min_std=0, val_fraction=0, test_fraction=0))
    with rasterio.open(hr) as ds:
        full = ds.read().astype(np.float32)
    split = open_split(res.out, "train")
    rows = split.index()
    assert len(rows) == res.counts["train"] > 0
    for k, row in enumerate(rows):
        r, c = int(row["lr_row"]), int(row["lr_col"])
        # LR pixel (r, c) starts at HR pixel ((r - 3) * 4, (c - 2) * 4)
        hr_patch = full[:, (r - 3) * 4:(r - 3) * 4 + 32, (c - 2) * 4:(c - 2) * 4 + 32]
        np.testing.assert_allclose(split[k][1], hr_patch, atol=0.01)
        left, top = Affine(10, 0, 300000.0, 0, -10, 5000000.0) @ (c, r)
        assert (float(row["left"]), float(row["top"])) == pytest.approx((left, top))
    meta = json.loads(res.prepare_json.read_text())
    assert meta["pairs"][0]["overlap_window"] == {"col_off": 2, "row_off": 3, "width": 30, "height": 25}
    assert meta["fine_grid"]["width"] == 148 and meta["fine_grid"]["res"] == 2.5


# ---- the store and prepare.json ------------------------------------------------------------
def test_store_and_prepare_json(prepared):
    res, scene = prepared(0, coregister=True, harmonise=True)
    meta = json.loads(res.prepare_json.read_text())
    assert meta["bands"] == ["B2", "B3", "B4", "B8"] == res.bands
    assert meta["sensor"] == SensorModel(4).to_dict()
    assert meta["scale"] == 4 and meta["patch_size"] == 16 and meta["lr_res"] == 10.0
    assert meta["epsg"] == 32631 and meta["crs"] == "EPSG:32631"
    assert set(meta["rejects"]) == {"nodata", "bright", "low_texture"}
    assert meta["rejects"]["nodata"] > 0  # the synthetic tile edge
    for s in SPLITS:
        sp = open_split(res.out, s)
        assert len(sp) == meta["counts"][s] == res.counts[s]
        assert sp.lr.shape[1:] == (4, 16, 16) and sp.hr.shape[1:] == (4, 64, 64)
        assert np.all(sp.lr[:] > 0)
    assert res.counts["val"] > 0 and res.counts["test"] > 0


def test_coregistered_harmonised_patches_match_lr(prepared):
    """degrade(HR patch) ~ LR patch: much closer after --coregister --harmonise than without."""
    sensor = SensorModel(4)

    def err(**kw):
        res, _ = prepared(1, **kw)
        sp = open_split(res.out, "train")
        lr, hr = np.asarray(sp.lr), np.asarray(sp.hr)
        d = sensor.degrade(hr)
        return float(np.median(np.abs(d - lr)[..., 2:-2, 2:-2]))

    raw, fixed = err(), err(coregister=True, harmonise=True)
    assert fixed < 0.6 * raw
    assert fixed < 15  # about the synthetic noise level


def test_split_blocks_are_disjoint_with_a_gap(prepared):
    res, _ = prepared(2, coregister=True, harmonise=True)
    p = 16
    rects = {s: [(int(r["lr_row"]), int(r["lr_col"])) for r in _index(res.out, s)] for s in SPLITS}
    assert all(rects[s] for s in SPLITS)
    for other in ("val", "test"):
        for r1, c1 in rects[other]:
            for r0, c0 in rects["train"]:
                touch = r1 <= r0 + p and r0 <= r1 + p and c1 <= c0 + p and c0 <= c1 + p
                assert not touch, (other, (r1, c1), (r0, c0))


def test_footprint_polygons_are_patch_bounds(prepared):
    res, _ = prepared(0, coregister=True, harmonise=True)
    fc = json.loads(res.footprint.read_text())
    assert fc["type"] == "FeatureCollection"
    rows = {int(r["id"]): (s, r) for s in SPLITS for r in _index(res.out, s)}
    assert len(fc["features"]) == len(rows) == sum(res.counts.values())
    for f in fc["features"]:
        split, row = rows[f["properties"]["id"]]
        assert f["properties"]["split"] == split and f["properties"]["pair"] == 0
        ring = np.asarray(f["geometry"]["coordinates"][0])
        assert ring.shape == (5, 2) and np.all(ring[0] == ring[-1])
        area = 0.5 * np.sum(ring[:-1, 0] * ring[1:, 1] - ring[1:, 0] * ring[:-1, 1])
        assert area > 0  # counter-clockwise
        assert np.all((ring[:, 0] >= -180) & (ring[:, 0] <= 180) & (ring[:, 1] >= -90) & (ring[:, 1] <= 90))
        xs, ys = warp_transform("EPSG:4326", "EPSG:32631", ring[:, 0].tolist(), ring[:, 1].tolist())
        b = [float(row[k]) for k in ("left", "bottom", "right", "top")]
        assert min(xs) == pytest.approx(b[0], abs=1e-3) and max(xs) == pytest.approx(b[2], abs=1e-3)
        assert min(ys) == pytest.approx(b[1], abs=1e-3) and max(ys) == pytest.approx(b[3], abs=1e-3)


# ---- options and other inputs --------------------------------------------------------------
def test_random_sampling_is_seeded_and_limited(prepared):
    a, _ = prepared(0, sampling="random", max_patches=20, seed=7)
    b, _ = prepared(0, sampling="random", max_patches=20, seed=7, harmonise=False)
    total = sum(a.counts.values()) + sum(a.rejects.values())
    assert total <= 22
    assert _index(a.out, "train") == _index(b.out, "train")


def test_hr_in_another_crs_is_reprojected(synth_scene, tmp_path):
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    scene = synth_scene(0, 256)
    hr3857 = tmp_path / "hr3857.tif"
    with rasterio.open(scene.hr) as src:
        t, w, h = calculate_default_transform(src.crs, "EPSG:3857", src.width, src.height, *src.bounds)
        prof = src.profile | {"crs": "EPSG:3857", "transform": t, "width": w, "height": h}
        with rasterio.open(hr3857, "w", **prof) as dst:
            for b in range(1, 5):
                reproject(rasterio.band(src, b), rasterio.band(dst, b), resampling=Resampling.cubic)
    res = prepare(PrepareConfig(pairs=[(scene.lr, hr3857)], scale=4, patch_size=16, out=tmp_path / "ds",
                                coregister=True, harmonise=True))
    assert sum(res.counts.values()) > 5
    meta = json.loads(res.prepare_json.read_text())
    assert meta["epsg"] == 32631 and meta["pairs"][0]["hr_resampling"] in ("cubic", "average")
    g = meta["pairs"][0]["harmonisation"]["gains"]
    truth = json.loads(scene.truth.read_text())
    np.testing.assert_allclose(g, truth["gains"], rtol=0.05)


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_pixel_grids_without_crs_give_empty_footprint(tmp_path, make_raster, caplog):
    rng = np.random.default_rng(0)
    hr_data = (1000 + 800 * rng.random((4, 128, 128))).astype("uint16")
    lr_data = SensorModel(4).degrade(hr_data.astype(np.float32)).round().astype("uint16")
    # both bare pixel grids (identity transform, no CRS): assumed to cover the same extent
    lr = tmp_path / "lr.tif"
    hr = tmp_path / "hr.tif"
    for path, data in ((lr, lr_data), (hr, hr_data)):
        with rasterio.open(path, "w", driver="GTiff", width=data.shape[2], height=data.shape[1], count=4,
                           dtype="uint16") as ds:
            ds.write(data)
    res = prepare(PrepareConfig(pairs=[(lr, hr)], scale=4, patch_size=8, out=tmp_path / "ds", min_std=0))
    assert sum(res.counts.values()) > 0
    assert json.loads(res.footprint.read_text()) == {"type": "FeatureCollection", "features": []}
    meta = json.loads(res.prepare_json.read_text())
    assert "no CRS" in meta["footprint"] and meta["crs_wkt"] is None
    assert any("no CRS" in w for w in res.pairs[0].warnings)


def test_hr_resolution_off_warns(tmp_path, make_raster):
    lr = make_raster("lr.tif", shape=(4, 40, 40))
    hr = make_raster("hr.tif", res=2.0, shape=(4, 200, 200), seed=3)
    res = prepare(PrepareConfig(pairs=[(lr, hr)], scale=4, patch_size=8, out=tmp_path / "ds", min_std=0))
    assert any("-20% off" in w and str(hr) in w for w in res.pairs[0].warnings)
    assert json.loads(res.prepare_json.read_text())["pairs"][0]["hr_resampling"] == "average"


def test_two_pairs_in_one_dataset(synth_scene, tmp_path):
    a, b = synth_scene(0, 256), synth_scene(1, 256)
    res = prepare(PrepareConfig(pairs=[(a.lr, a.hr), (b.lr, b.hr)], scale=4, patch_size=8, out=tmp_path / "ds"))
    pairs = {int(r["pair"]) for s in SPLITS for r in _index(res.out, s)}
    assert pairs == {0, 1}
    ids = [int(r["id"]) for s in SPLITS for r in _index(res.out, s)]
    assert sorted(ids) == list(range(len(ids)))


def test_cli_prepare_and_synth(tmp_path, capsys):
    assert main(["synth", str(tmp_path / "scene"), "--size", "256", "--seed", "4"]) == 0
    rc = main(["prepare", "--lr", str(tmp_path / "scene/lr.tif"), "--hr", str(tmp_path / "scene/hr.tif"),
               "--scale", "4", "--patch-size", "8", "--out", str(tmp_path / "ds"), "--coregister", "--harmonise"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "train" in out and (tmp_path / "ds" / "prepare.json").is_file()


def test_memory_is_bounded_by_blocks(synth_scene, tmp_path):
    """Peak numpy memory stays well below one float copy of the HR raster (16 MiB here)."""
    import tracemalloc

    small = synth_scene(0, 256)  # warm up: first-time imports would count as allocations
    prepare(PrepareConfig(pairs=[(small.lr, small.hr)], scale=4, patch_size=16, out=tmp_path / "warm"))
    scene = synth_scene(4, 1024)
    cfg = PrepareConfig(pairs=[(scene.lr, scene.hr)], scale=4, patch_size=16, out=tmp_path / "ds",
                        coregister=True, harmonise=True, coreg_window=48)
    tracemalloc.start()
    try:
        res = prepare(cfg)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sum(res.counts.values()) > 100
    assert peak < 8 * 2**20, peak / 2**20


@pytest.mark.slow
def test_demo_configuration(tmp_path):
    """What `s2sr demo` runs: size 2048, scale 4, patch 32 -> all splits filled, truth recovered."""
    from s2sr.synth import synthesise

    scene = synthesise(tmp_path / "scene", seed=0, size=2048, scale=4)
    res = prepare(PrepareConfig(pairs=[(scene.lr, scene.hr)], scale=4, patch_size=32,
                                out=tmp_path / "dataset", coregister=True, harmonise=True))
    assert res.counts["train"] > 100 and res.counts["val"] > 10 and res.counts["test"] > 10
    pr = json.loads(res.prepare_json.read_text())["pairs"][0]
    assert abs(pr["shift_lr_px"]["dx"] - scene.shift_lr_px[0]) < 0.1
    assert abs(pr["shift_lr_px"]["dy"] - scene.shift_lr_px[1]) < 0.1
    np.testing.assert_allclose(pr["harmonisation"]["gains"], scene.gains, rtol=0.02)


def test_hr_nodata_patches_are_rejected(make_raster, tmp_path):
    rng = np.random.default_rng(5)
    hr = (1000 + 1500 * rng.random((4, 256, 256))).astype("uint16")
    hr[:, 100:160, 40:200] = 0  # a hole in the HR (nodata 0)
    lr_path = make_raster("lr.tif", shape=(4, 64, 64), seed=6)
    hr_path = make_raster("hr.tif", res=2.5, data=hr)
    res = prepare(PrepareConfig(pairs=[(lr_path, hr_path)], scale=4, patch_size=8, out=tmp_path / "ds",
                                min_std=0, val_fraction=0, test_fraction=0))
    assert res.rejects["nodata"] >= 6  # the hole spans at least 2 x 3 patches of 32 HR px
    sp = open_split(res.out, "train")
    assert np.isfinite(sp.hr[:]).all() and (np.asarray(sp.hr) > 0).all()
    for row in sp.index():  # no kept patch overlaps the hole (LR rows 25..40, cols 10..50)
        r, c = int(row["lr_row"]), int(row["lr_col"])
        assert r + 8 <= 25 or r >= 40 or c + 8 <= 10 or c >= 50


def test_assign_splits_skips_blocks_too_small_for_a_patch():
    from s2sr.data.sampling import assign_splits

    cfg = PrepareConfig(pairs=[("a", "b")], scale=4, out="o", patch_size=8, split_gap=1)  # block 34
    for seed in range(5):
        blocks = cut_blocks(Window(0, 0, 40, 40), cfg.block)  # 34x34, 6x34, 34x6, 6x6
        assign_splits(blocks, cfg, np.random.default_rng(seed))
        assert [b.split for b in blocks] == ["train"] * 4  # one usable block: it stays train
        blocks = cut_blocks(Window(0, 0, 110, 75), cfg.block)  # 3 x 2 usable + thin edge blocks
        assign_splits(blocks, cfg, np.random.default_rng(seed))
        splits = [b.split for b in blocks]
        assert splits.count("val") == 1 and splits.count("test") == 1
        for b in blocks:
            if b.split != "train":
                assert b.window.width == b.window.height == 34
