"""Splits on small scenes, messages about empty splits, and unmeasured shifts (issue 13, items 1, 2, 4)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from s2sr.cli.main import main
from s2sr.data.config import PrepareConfig
from s2sr.data.prepare import prepare
from s2sr.errors import ConfigError, InputError


def _pair(make_raster, lr_px: int, seed: int = 0):
    lr = make_raster("lr.tif", shape=(4, lr_px, lr_px), seed=seed)
    # the HR reaches 4 LR px past every edge: co-registration reads it around the windows
    hr = make_raster("hr.tif", res=2.5, shape=(4, 4 * lr_px + 32, 4 * lr_px + 32), seed=seed + 1,
                     origin=(500000.0 - 40, 4600000.0 + 40))
    return lr, hr


def _warnings(caplog) -> list[str]:
    """prepare's own warnings about the dataset (the random test images do not fit a gain model either, which
    prepare also says: not about splits)."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "gains not estimated" not in
            r.getMessage()]


def test_small_scene_gets_smaller_blocks_so_val_and_test_exist(make_raster, tmp_path, caplog):
    lr, hr = _pair(make_raster, 150)  # a 600 px image at x4; the default 136 px block gives one block
    with caplog.at_level(logging.INFO, logger="s2sr"):
        res = prepare(PrepareConfig(pairs=[(lr, hr)], scale=4, patch_size=32, out=tmp_path / "ds", min_std=0))
    assert all(res.counts[s] > 0 for s in ("train", "val", "test")), res.counts
    doc = json.loads((tmp_path / "ds" / "prepare.json").read_text())
    # the largest block that gives 4: one 110 px block and three edge blocks of 40 px (a val/test patch + gaps)
    assert doc["split"]["block_lr_px"] == 110 and doc["split"]["blocks"] == {"train": 2, "val": 1, "test": 1}
    assert "the scenes give 1 split block(s) of 136 LR px; using 110 px blocks (4 blocks)" in caplog.text
    assert _warnings(caplog) == []


def test_explicit_split_block_is_kept(make_raster, tmp_path):
    lr, hr = _pair(make_raster, 150)
    prepare(PrepareConfig(pairs=[(lr, hr)], scale=4, patch_size=32, out=tmp_path / "ds", min_std=0, split_block=136))
    assert json.loads((tmp_path / "ds" / "prepare.json").read_text())["split"]["block_lr_px"] == 136


def test_test_fraction_zero_does_not_warn(make_raster, tmp_path, caplog):
    lr, hr = _pair(make_raster, 150)
    with caplog.at_level(logging.WARNING, logger="s2sr"):
        res = prepare(PrepareConfig(pairs=[(lr, hr)], scale=4, patch_size=32, out=tmp_path / "ds", min_std=0,
                                    test_fraction=0))
    assert res.counts["test"] == 0 and res.counts["val"] > 0
    assert _warnings(caplog) == []


def test_prepare_and_train_give_the_same_reason_and_fix(make_raster, tmp_path, caplog, capsys):
    lr, hr = _pair(make_raster, 36)  # 36 LR px: not even 2 x 2 blocks of the smallest size (20 px)
    with caplog.at_level(logging.WARNING, logger="s2sr"):
        prepare(PrepareConfig(pairs=[(lr, hr)], scale=4, patch_size=16, out=tmp_path / "ds", min_std=0))
    why = ("the scenes give 1 split block(s) of 68 LR px and train, val and test need one each; re-run prepare "
           "with a smaller --split-block (>= 20) or --patch-size, or with larger or more images (at least 40 LR "
           "px a side), or --val-scenes NAMES")
    assert f"prepare: the val split is empty: {why}" in _warnings(caplog)
    assert main(["-q", "train", "--data", str(tmp_path / "ds"), "--config", "light", "--out", str(tmp_path / "run"),
                 "--max-steps", "1"]) == 2
    assert capsys.readouterr().err.strip() == f"s2sr train: error: {tmp_path / 'ds'}: the val split is empty: {why}"


def test_val_fraction_zero_is_named_as_the_cause(make_raster, tmp_path, caplog, capsys):
    lr, hr = _pair(make_raster, 150)
    with caplog.at_level(logging.WARNING, logger="s2sr"):
        prepare(PrepareConfig(pairs=[(lr, hr)], scale=4, patch_size=32, out=tmp_path / "ds", min_std=0,
                              val_fraction=0))
    why = "prepare ran with --val-fraction 0; re-run it with --val-fraction 0.15 (or --val-scenes NAMES with a scene list)"
    assert _warnings(caplog) == [f"prepare: the val split is empty: {why}"]
    assert main(["-q", "train", "--data", str(tmp_path / "ds"), "--config", "light", "--out", str(tmp_path / "run"),
                 "--max-steps", "1"]) == 2
    assert capsys.readouterr().err.strip().endswith(f"the val split is empty: {why}")


def test_unmeasured_shift_is_said_and_not_reported_as_zero(make_raster, tmp_path, caplog):
    """Bright dots every 8 px: no co-registration window is clean, but patches are (1.6 % bright)."""
    lr, hr = _pair(make_raster, 64)
    import rasterio

    with rasterio.open(lr, "r+") as ds:
        a = ds.read()
        a[:, ::8, ::8] = 9000
        ds.write(a)
    with caplog.at_level(logging.INFO, logger="s2sr"):
        prepare(PrepareConfig(pairs=[(lr, hr)], scale=4, patch_size=16, out=tmp_path / "ds", min_std=0,
                              coregister=True))
    assert "pair 0: LR/HR offset not measured (no usable window); nothing corrected" in caplog.text
    assert "0 windows" not in caplog.text and "dx=+0.000" not in caplog.text
    shift = json.loads((tmp_path / "ds" / "prepare.json").read_text())["pairs"][0]["shift_lr_px"]
    assert shift["dx"] is None and shift["dy"] is None and shift["applied"] is False


def test_demo_size_check_knows_what_prepare_needs(tmp_path):
    from s2sr.data.config import make_prepare_config
    from s2sr.demo import DemoConfig, check_demo_size, run_demo
    from s2sr.synth import synthesise

    with pytest.raises(ConfigError, match=r"--size 320: gives a 80 px LR scene at x4; prepare needs 84 LR px a side "
                                          r".*use --size 336 or more"):
        run_demo(DemoConfig(out=tmp_path / "demo", size=320))
    assert not (tmp_path / "demo").exists()  # refused before any work
    check_demo_size(DemoConfig(size=336))  # the smallest accepted size ...
    syn = synthesise(tmp_path / "scene", seed=0, size=336, scale=4)
    res = prepare(make_prepare_config(pairs=[(syn.lr, syn.hr)], scale=4, patch_size=32, out=tmp_path / "ds",
                                      coregister=True, harmonise=True, seed=0))  # ... as the demo prepares it
    assert res.counts["val"] > 0 and res.counts["test"] > 0 and res.counts["train"] > 0


def test_demo_cli_size_error_is_one_line(tmp_path, capsys):
    assert main(["-q", "demo", "--size", "320", "--out", str(tmp_path / "d")]) == 2
    assert capsys.readouterr().err.strip().startswith("s2sr demo: error: --size 320: gives a 80 px LR scene")


def test_no_usable_patch_is_still_an_error(make_raster, tmp_path):
    flat = np.full((4, 150, 150), 1200, "uint16")
    lr = make_raster("flat.tif", data=flat)
    hr = make_raster("hr.tif", res=2.5, shape=(4, 600, 600))
    with pytest.raises(InputError, match="no usable training patch"):
        prepare(PrepareConfig(pairs=[(lr, hr)], scale=4, patch_size=32, out=tmp_path / "ds"))
