"""Faults of evaluate and degrade (issue 11, items 4, 10, 11)."""

from __future__ import annotations

import numpy as np

from .conftest import smooth_image


def _err(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_hr_coarser_than_lr_is_refused(make_raster, bicubic_model, tmp_path, capsys, cli) -> None:
    """Item 10: evaluate accepted an HR coarser than the LR (swapped files) without a word; prepare refuses it."""
    fine = make_raster("fine.tif", data=smooth_image((4, 64, 64), 1), res=2.5, nodata=None)
    coarse = make_raster("coarse.tif", data=smooth_image((4, 16, 16), 2), res=10.0, nodata=None)
    out = tmp_path / "ev"
    assert cli(["-q", "evaluate", "--model", str(bicubic_model(4)), "--lr", str(fine), "--hr", str(coarse),
                 "--out", str(out)]) == 2
    assert _err(capsys) == (f"s2sr evaluate: error: {coarse}: HR pixel size 10 is coarser than (or equal to) the LR "
                            f"pixel 2.5 of {fine}; pass the finer image as --hr (are --lr and --hr swapped?)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["bicubic_x4.pt", "fine.tif", "coarse.tif"])


def test_all_nan_wald_image_names_the_image_not_a_deleted_temp(make_raster, bicubic_model, tmp_path, capsys, cli) -> None:
    """Item 11: the all-NaN error of evaluate --wald named .ev.tmp-XXXX/wald/hr.tif, deleted on exit."""
    img = make_raster("nan.tif", data=np.zeros((4, 64, 64), np.uint16), nodata=0)  # all nodata
    assert cli(["-q", "evaluate", "--model", str(bicubic_model(4)), "--wald", str(img),
                 "--out", str(tmp_path / "ev")]) == 2
    assert _err(capsys) == (f"s2sr evaluate: error: {img}: no valid reference pixel on the LR's fine grid "
                            "(all nodata or NaN; check its nodata value)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["bicubic_x4.pt", "nan.tif"])


def test_degrade_into_an_unwritable_folder_is_one_line(make_raster, unwritable_dir, capsys, cli) -> None:
    """Item 4: degrade OUTDIR in a folder the user cannot write raised PermissionError (EROFS here)."""
    img = make_raster("img.tif", shape=(4, 32, 32))
    out = unwritable_dir / "pair"
    assert cli(["-q", "degrade", str(img), str(out), "--scale", "4"]) == 2
    err = _err(capsys)
    assert err.startswith(f"s2sr degrade: error: {out}: cannot write (")
    assert err.endswith("); choose a writable folder or fix its permissions\n")


def test_degrade_on_a_full_disk_is_one_line_and_leaves_nothing(make_raster, small_disk, capsys, cli) -> None:
    img = make_raster("img.tif", data=np.random.default_rng(0).integers(0, 4000, (4, 256, 256)).astype("uint16"))
    disk = small_disk(64)
    out = disk / "pair"
    assert cli(["-q", "degrade", str(img), str(out), "--scale", "4"]) == 2
    assert _err(capsys) == f"s2sr degrade: error: {out}: disk full while writing; free space or write elsewhere\n"
    assert list(disk.iterdir()) == []
