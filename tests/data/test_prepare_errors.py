"""Bad inputs to prepare: one clear error naming the file and the fix, and no output left behind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from s2sr.cli.main import main
from s2sr.data.config import PrepareConfig, make_prepare_config
from s2sr.data.prepare import prepare
from s2sr.errors import ConfigError, GridError, InputError, OutputError, S2SRError


def _hr_for(make_raster, name="hr.tif", **kw):
    """An HR raster (2.5 m) covering the default 64x64 LR at 10 m."""
    kw.setdefault("shape", (4, 256, 256))
    kw.setdefault("res", 2.5)
    return make_raster(name, **kw)


def _assert_fails(tmp_path: Path, pairs, exc, *needles, **kw):
    out = tmp_path / "out"
    kw.setdefault("scale", 4)
    kw.setdefault("patch_size", 16)
    with pytest.raises(exc) as ei:
        prepare(PrepareConfig(pairs=pairs, out=out, **kw))
    msg = str(ei.value)
    assert "\n" not in msg
    for n in needles:
        assert str(n) in msg
    assert not [p.name for p in tmp_path.iterdir() if p.name == "out" or p.name.startswith(".out.tmp-")]
    return msg


def test_missing_file(tmp_path, make_raster):
    lr = make_raster("lr.tif")
    missing = tmp_path / "nope.tif"
    _assert_fails(tmp_path, [(lr, missing)], InputError, missing, "not found")


def test_corrupt_file(tmp_path, make_raster):
    lr = make_raster("lr.tif")
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"II*\x00" + b"garbage" * 50)
    _assert_fails(tmp_path, [(lr, bad)], InputError, bad, "not a readable raster")


def test_truncated_pixels(tmp_path, make_raster):
    lr = make_raster("lr.tif")
    hr = _hr_for(make_raster, compress="deflate", tiled=True, blockxsize=64, blockysize=64)
    data = hr.read_bytes()
    hr.write_bytes(data[: len(data) // 2])
    _assert_fails(tmp_path, [(lr, hr)], InputError, hr)


def test_no_overlap_says_zero_area(tmp_path, make_raster):
    lr = make_raster("lr.tif")
    hr = _hr_for(make_raster, origin=(600000.0, 4600000.0))
    _assert_fails(tmp_path, [(lr, hr)], GridError, lr, hr, "do not overlap (0 m²)")


def test_overlap_too_small_reports_area(tmp_path, make_raster):
    lr = make_raster("lr.tif")  # x 500000..500640, y 4599360..4600000
    hr = _hr_for(make_raster, origin=(500640.0 - 100.0, 4600000.0))  # 100 m x 640 m overlap
    msg = _assert_fails(tmp_path, [(lr, hr)], GridError, lr, "overlap only", "m²", "16x16")
    assert "64000 m²" in msg and "15.6% of the LR" in msg


def test_wrong_band_count(tmp_path, make_raster):
    lr = make_raster("lr.tif", shape=(3, 64, 64))
    hr = _hr_for(make_raster)
    _assert_fails(tmp_path, [(lr, hr)], InputError, lr, "has 3 band(s)", "--lr-bands")


def test_band_selection_mismatch(tmp_path, make_raster):
    lr = make_raster("lr.tif")
    hr = _hr_for(make_raster)
    _assert_fails(tmp_path, [(lr, hr)], InputError, lr, hr, "same bands", hr_bands=[1, 2, 3])


def test_wrong_dtype(tmp_path, make_raster):
    lr = make_raster("lr.tif")
    data = (np.ones((4, 256, 256)) * (1 + 1j)).astype("complex64")
    hr = _hr_for(make_raster, data=data, nodata=None)
    _assert_fails(tmp_path, [(lr, hr)], InputError, hr, "complex64", "gdal_translate")


def test_all_nodata(tmp_path, make_raster):
    lr = make_raster("lr.tif", data=np.zeros((4, 64, 64), "uint16"))
    hr = _hr_for(make_raster)
    _assert_fails(tmp_path, [(lr, hr)], InputError, lr, "every pixel is nodata")


def test_hr_coarser_than_lr(tmp_path, make_raster):
    lr = make_raster("lr.tif")
    hr = make_raster("hr.tif", res=20.0, shape=(4, 32, 32))
    _assert_fails(tmp_path, [(lr, hr)], InputError, hr, lr, "HR pixel size 20 is coarser", "swapped")


def test_only_one_file_has_crs(tmp_path, make_raster):
    lr = make_raster("lr.tif")
    hr = _hr_for(make_raster, crs=None)
    _assert_fails(tmp_path, [(lr, hr)], InputError, hr, "has no CRS", "gdal_edit.py")


@pytest.mark.parametrize("scale", ["2.5", 3.5, "x", 1])
def test_non_integer_scale(tmp_path, make_raster, scale):
    lr = make_raster("lr.tif")
    with pytest.raises(ConfigError, match="--scale"):
        make_prepare_config(pairs=[(lr, lr)], scale=scale, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_bad_option_is_config_error(tmp_path, make_raster):
    lr = make_raster("lr.tif")
    with pytest.raises(ConfigError, match="val_fraction"):
        make_prepare_config(pairs=[(lr, lr)], scale=4, out=tmp_path / "o", val_fraction=0.6, test_fraction=0.5)


def test_existing_output_is_kept(tmp_path, make_raster):
    lr = make_raster("lr.tif")
    hr = _hr_for(make_raster)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("x")
    with pytest.raises(OutputError, match="--overwrite"):
        prepare(PrepareConfig(pairs=[(lr, hr)], scale=4, patch_size=16, out=tmp_path / "out"))
    assert (tmp_path / "out" / "keep.txt").exists()


def test_output_that_is_a_file_fails_up_front(tmp_path, make_raster):
    """--out naming an existing plain file is refused before any work, even with --overwrite; the file is kept."""
    lr = make_raster("lr.tif")
    hr = _hr_for(make_raster)
    out = tmp_path / "out"
    out.write_text("x")
    with pytest.raises(OutputError) as ei:
        prepare(PrepareConfig(pairs=[(lr, hr)], scale=4, patch_size=16, out=out, overwrite=True))
    assert str(ei.value) == f"{out}: exists and is not a directory; remove it or choose another output folder"
    assert out.read_text() == "x"
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.tmp-")]


def test_corrupt_hr_block_is_one_line_input_error(tmp_path, make_raster, corrupt_block):
    lr = make_raster("lr.tif")
    hr = corrupt_block(_hr_for(make_raster, tiled=True, blockxsize=16, blockysize=16, compress="deflate"), col=3, row=3)
    msg = _assert_fails(tmp_path, [(lr, hr)], InputError, hr, "pixel data is corrupt or truncated",
                        "re-download or re-export it")
    assert msg.startswith(f"{hr}: ")


def test_overwrite_of_the_folder_holding_the_inputs_is_refused(tmp_path, make_raster):
    """--out DIR --overwrite where DIR holds lr.tif/hr.tif deleted the inputs."""
    lr = make_raster("lr.tif")
    hr = _hr_for(make_raster)
    with pytest.raises(OutputError) as ei:
        prepare(PrepareConfig(pairs=[(lr, hr)], scale=4, patch_size=16, out=tmp_path, overwrite=True))
    assert str(ei.value) == (f"{tmp_path}: holds the input {lr}, which replacing it would delete; "
                             "choose another output folder")
    assert lr.is_file() and hr.is_file()


def test_second_bad_pair_fails_before_writing(tmp_path, make_raster):
    lr = make_raster("lr.tif")
    hr = _hr_for(make_raster)
    bad = make_raster("lr3.tif", shape=(3, 64, 64))
    _assert_fails(tmp_path, [(lr, hr), (bad, hr)], S2SRError, bad)


@pytest.mark.parametrize("case", ["missing", "scale"])
def test_cli_one_line_error(tmp_path, make_raster, capsys, case):
    lr = make_raster("lr.tif")
    hr = tmp_path / "missing.tif" if case == "missing" else _hr_for(make_raster)
    scale = "4" if case == "missing" else "2.5"
    rc = main(["prepare", "--lr", str(lr), "--hr", str(hr), "--scale", scale, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("s2sr prepare: error:")
    assert "Traceback" not in err
    assert (str(hr) if case == "missing" else "--scale") in lines[0]
    assert not (tmp_path / "out").exists()


def test_missing_output_parent_fails_before_work(tmp_path, make_raster):
    lr = make_raster("lr.tif")
    hr = _hr_for(make_raster)
    with pytest.raises(OutputError, match="does not exist; create it first"):
        prepare(PrepareConfig(pairs=[(lr, hr)], scale=4, patch_size=16, out=tmp_path / "no" / "out"))
    assert not (tmp_path / "no").exists()


def test_no_usable_patch(tmp_path, make_raster):
    flat = np.full((4, 64, 64), 1200, "uint16")
    lr = make_raster("lr.tif", data=flat)
    hr = _hr_for(make_raster)
    # one 68 px block (64 px scene): 16 patches, all rejected (without --split-block, prepare would shrink
    # the blocks so that val and test get one; see test_prepare_splits.py)
    _assert_fails(tmp_path, [(lr, hr)], InputError, lr, "no usable training patch", "low_texture 16", split_block=68)
