"""The HR on the fine grid: prepare's training targets and evaluate's reference are the same pixels.

Awkward HR grids (rotated, non-square pixels, another CRS, no CRS at all) hold a linear
ramp of ground coordinates, so the right answer on the fine grid is known: the ramp at
the fine pixel centres.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.warp import transform as warp_points

from s2sr.data.config import PrepareConfig
from s2sr.data.pairs import hr_reader, open_pair
from s2sr.evaluate.scene import Scene
from s2sr.grid import fine_window
from s2sr.io.raster import read_info
from s2sr.io.warp import pixel_size, plan_fine_hr

LR_CRS = "EPSG:32631"
X0, Y0 = 500000.0, 4600000.0  # LR upper-left corner
LR_SIZE, SCALE = 16, 4
CX, CY = X0 + 80.0, Y0 - 80.0  # LR centre


def ramp(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return 1000.0 + 3.0 * (x - CX) + 2.0 * (y - CY)


def _write(path: Path, data: np.ndarray, transform: Affine, crs: str | None) -> Path:
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
                       dtype="float32", crs=CRS.from_user_input(crs) if crs else None, transform=transform) as ds:
        ds.write(data.astype(np.float32))
    return path


def _hr(path: Path, transform: Affine, size: tuple[int, int], crs: str | None) -> Path:
    """A 1-band HR holding the ramp at its pixel centres (ground coordinates in the LR CRS)."""
    h, w = size
    cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    xs, ys = transform @ (cols.ravel(), rows.ravel())
    if crs not in (None, LR_CRS):
        xs, ys = warp_points(crs, LR_CRS, xs, ys)
    return _write(path, ramp(np.asarray(xs), np.asarray(ys)).reshape(1, h, w), transform, crs)


def _centred(res_x: float, res_y: float, n: tuple[int, int], rot: float = 0.0, cx: float = CX,
             cy: float = CY) -> Affine:
    """A grid of ``n`` (rows, cols) pixels centred on (cx, cy), rotated by ``rot`` degrees."""
    h, w = n
    return (Affine.translation(cx, cy) @ Affine.rotation(rot) @ Affine.scale(res_x, -res_y)
            @ Affine.translation(-w / 2, -h / 2))


def _case(name: str, tmp: Path) -> tuple[Path, Path]:
    lr_t = Affine(10.0, 0, X0, 0, -10.0, Y0)
    crs: str | None = LR_CRS
    if name == "rotated":
        hr = _hr(tmp / "hr.tif", _centred(2.5, 2.5, (120, 120), rot=20.0), (120, 120), LR_CRS)
    elif name == "near_fine":  # 2.48 m: 0.8 % finer than the fine grid (once cubic here, average there)
        hr = _hr(tmp / "hr.tif", _centred(2.48, 2.48, (120, 120)), (120, 120), LR_CRS)
    elif name == "non_square":
        hr = _hr(tmp / "hr.tif", _centred(2.0, 3.0, (80, 120)), (80, 120), LR_CRS)
    elif name == "other_crs":
        (ux,), (uy,) = warp_points(LR_CRS, "EPSG:32632", [CX], [CY])
        hr = _hr(tmp / "hr.tif", _centred(2.5, 2.5, (140, 140), cx=ux, cy=uy), (140, 140), "EPSG:32632")
    elif name == "no_crs":
        crs = None
        hr = _hr(tmp / "hr.tif", _centred(2.0, 2.0, (120, 120)), (120, 120), None)
    else:
        raise AssertionError(name)
    lr = _write(tmp / "lr.tif", np.full((1, LR_SIZE, LR_SIZE), 1000, np.float32), lr_t, crs)
    return lr, hr


@pytest.mark.parametrize("name", ["rotated", "near_fine", "non_square", "other_crs", "no_crs"])
def test_prepare_targets_and_evaluate_reference_are_the_same_pixels(name: str, tmp_path: Path) -> None:
    lr, hr = _case(name, tmp_path)
    cfg = PrepareConfig(pairs=[(lr, hr)], scale=SCALE, patch_size=8, lr_bands=[1], hr_bands=[1], out=tmp_path / "ds")
    pair = open_pair(0, lr, hr, cfg)
    with hr_reader(pair) as r:
        target, target_ok = r.read(pair.window)
    scene = Scene(lr, hr, SCALE, [1], [1])
    try:
        ref, ref_ok = scene.read_ref(fine_window(pair.window, SCALE))
    finally:
        scene.close()
    np.testing.assert_array_equal(target_ok, ref_ok)
    np.testing.assert_array_equal(target, ref)  # bit for bit, NaN where invalid
    assert target_ok.mean() > 0.9
    # and both are right: the ramp at the fine pixel centres
    fine = pair.fine.transform @ Affine.translation(pair.window.col_off * SCALE, pair.window.row_off * SCALE)
    cols, rows = np.meshgrid(np.arange(target.shape[2]) + 0.5, np.arange(target.shape[1]) + 0.5)
    xs, ys = fine @ (cols, rows)
    err = np.abs(target[0] - ramp(xs, ys))[target_ok]
    assert err.max() < 1.5  # 3 units per metre: under 0.5 m off, a fraction of an HR pixel


def test_one_pixel_size_and_resampling_rule(tmp_path: Path) -> None:
    lr, hr = _case("non_square", tmp_path)
    warp = plan_fine_hr(read_info(lr), read_info(hr), SCALE)
    assert warp.hr_res == pytest.approx(np.sqrt(6.0))  # 2 x 3 m pixels: the area of a 2.449 m square
    assert warp.resampling == Resampling.average  # finer than the 2.5 m fine grid
    assert pixel_size(Affine.rotation(30) @ Affine.scale(2.5, -2.5)) == pytest.approx(2.5)
    lr, hr = _case("rotated", tmp_path)
    assert plan_fine_hr(read_info(lr), read_info(hr), SCALE).resampling == Resampling.cubic  # 2.5 m = fine grid
