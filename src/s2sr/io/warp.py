"""The HR image on the fine grid of an LR image: one recipe for training targets and reference.

``prepare`` cuts its HR patches and ``evaluate`` reads its reference through
:func:`plan_fine_hr` and :meth:`FineHR.open`, so both see the same pixels:

* CRS: both images have one, or neither. Without, they share :data:`LOCAL_CRS` (GDAL then
  only does grid math); two bare pixel grids (identity transforms) are assumed to cover
  the same extent.
* The HR pixel size, in LR CRS units, is ``sqrt(|det|)`` of its transform (right for
  rotated and non-square pixels), or of GDAL's suggested transform when the CRS differ.
* Resampling: ``average`` when the HR is finer than the fine grid (by more than 1 %),
  ``cubic`` otherwise.
* A shift ``(dx, dy)`` (LR px, LR content relative to HR, x east, y south) moves the HR
  sampling grid, never the output grid.
* An HR already on the fine grid (same CRS and transform, no shift) is read as it is.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.warp import calculate_default_transform, transform_bounds
from rasterio.windows import Window

from s2sr.errors import InputError
from s2sr.grid import Grid, fine_grid
from s2sr.io.raster import RasterInfo, open_raster, read_padded

# Stand-in CRS for images without georeference (both sides get it: GDAL only does grid math)
LOCAL_CRS = CRS.from_epsg(3857)
FINER = 0.99  # HR pixel below FINER x fine pixel: average resampling, else cubic


def pixel_size(t: Affine) -> float:
    """Side of the square with the area of one pixel of ``t`` (any rotation or aspect)."""
    return float(math.sqrt(abs(t.determinant)))


@dataclass(frozen=True)
class FineHR:
    """How the HR image ``hr`` is brought onto the fine grid of ``lr`` at ``scale``."""

    lr: RasterInfo
    hr: RasterInfo
    scale: int
    hr_transform: Affine  # differs from the file's only for two bare pixel grids
    hr_res: float  # HR pixel size in LR CRS units
    resampling: Resampling
    note: str | None = None  # how two images without CRS were put on one grid

    @property
    def fine(self) -> Grid:
        return fine_grid(self.lr.grid, self.scale)

    @property
    def hr_bounds(self) -> tuple[float, float, float, float]:
        """HR footprint (left, bottom, right, top) in the LR CRS."""
        b = Grid(self.hr_transform, self.hr.width, self.hr.height).bounds
        if self.lr.crs is None or self.lr.crs == self.hr.crs:
            return b
        return transform_bounds(self.hr.crs, self.lr.crs, *b, densify_pts=21)

    def check_finer(self) -> None:
        """Refuse an HR that is not finer than the LR (the two files swapped, most likely)."""
        lr_res = pixel_size(self.lr.grid.transform)
        if self.hr_res >= 0.999 * lr_res:
            raise InputError(
                f"{self.hr.path}: HR pixel size {self.hr_res:.4g} is coarser than (or equal to) the LR pixel "
                f"{lr_res:.4g} of {self.lr.path}; pass the finer image as --hr (are --lr and --hr swapped?)"
            )

    def on_fine_grid(self, shift: tuple[float, float] = (0.0, 0.0)) -> bool:
        """True when the HR pixels already are the fine grid's (then it is read as it is)."""
        fine, t = self.fine, self.hr_transform
        tol = 1e-6 * pixel_size(fine.transform)
        return (shift == (0.0, 0.0) and self.lr.crs == self.hr.crs and (self.hr.width, self.hr.height)
                == (fine.width, fine.height) and all(math.isclose(a, b, rel_tol=0, abs_tol=tol)
                                                     for a, b in zip(t[:6], fine.transform[:6], strict=True)))

    @contextmanager
    def open(self, bands: list[int], shift: tuple[float, float] = (0.0, 0.0)) -> Iterator[FineGridReader]:
        """A reader of the HR on the fine grid, with ``shift`` undone."""
        with open_raster(self.hr.path) as src:
            if self.on_fine_grid(shift):
                yield FineGridReader(src, bands)
                return
            fine, s = self.fine, self.scale
            kw: dict[str, Any] = dict(
                src_crs=src.crs or LOCAL_CRS, crs=self.lr.crs or LOCAL_CRS,
                transform=fine.transform @ Affine.translation(-shift[0] * s, -shift[1] * s),
                width=fine.width, height=fine.height, resampling=self.resampling, dtype="float32",
                nodata=float("nan"))
            if self.hr_transform != src.transform:
                kw["src_transform"] = self.hr_transform
            if src.nodata is not None:
                kw["src_nodata"] = src.nodata
            with WarpedVRT(src, **kw) as vrt:
                yield FineGridReader(vrt, bands)


class FineGridReader:
    """Windows of the HR on the fine grid: (bands, h, w) float32, NaN where invalid, and the mask."""

    def __init__(self, ds: Any, bands: list[int]) -> None:
        self.ds, self.bands = ds, bands

    def read(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """``window`` may reach outside the grid: those pixels are invalid."""
        data, valid = read_padded(self.ds, self.bands, window, np.nan)
        data[:, ~valid] = np.nan
        return data, valid


def plan_fine_hr(lr: RasterInfo, hr: RasterInfo, scale: int) -> FineHR:
    """Check the pair's CRS and decide the HR transform, pixel size and resampling."""
    t, note = _source_transform(lr, hr)
    fine = fine_grid(lr.grid, scale)  # raises on rotated LR grids
    res = _res_in_lr_crs(lr, hr, t)
    resampling = Resampling.average if res < FINER * pixel_size(fine.transform) else Resampling.cubic
    return FineHR(lr, hr, scale, t, res, resampling, note)


def _source_transform(lr: RasterInfo, hr: RasterInfo) -> tuple[Affine, str | None]:
    """The HR transform to warp from, and a note when neither image has a CRS."""
    if lr.crs is None and hr.crs is None:
        t = hr.grid.transform
        if t.is_identity and lr.grid.transform.is_identity:
            t = Affine(lr.width / hr.width, 0, 0, 0, lr.height / hr.height, 0)
            return t, f"{lr.path}, {hr.path}: no CRS and no georeference; assuming both cover the same extent"
        return t, f"{lr.path}, {hr.path}: no CRS; using their transforms as one local grid (no WGS84 footprint)"
    for a, b in ((lr, hr), (hr, lr)):
        if a.crs is None:
            raise InputError(
                f"{a.path}: has no CRS but {b.path} has {b.crs}; assign one (gdal_edit.py -a_srs EPSG:XXXX)"
            )
    return hr.grid.transform, None


def _res_in_lr_crs(lr: RasterInfo, hr: RasterInfo, t: Affine) -> float:
    if lr.crs is None or lr.crs == hr.crs:
        return pixel_size(t)
    dt, _, _ = calculate_default_transform(hr.crs, lr.crs, hr.width, hr.height, *hr.bounds)
    return pixel_size(dt)
