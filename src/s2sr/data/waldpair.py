"""Wald pairs made on the fly: one real image is both the HR target and, degraded by the
sensor model, the LR input (no intermediate files).

The LR grid is the image grid coarsened ``scale`` times (the image cropped to a multiple of
``scale``), so the fine grid *is* the image grid and the HR is read as it is. LR windows are
computed from HR windows grown by the blur radius, mirrored at the image edges: the result
equals ``s2sr degrade`` of the whole image (:mod:`s2sr.data.wald`), rounded to the image's
integer type like a real product. An LR pixel is valid only when every HR pixel under its
blur support is valid.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from affine import Affine
from rasterio.enums import Resampling
from rasterio.windows import Window

from s2sr.data.config import PrepareConfig
from s2sr.data.pairs import Pair, band_names, check_file, check_not_all_nodata
from s2sr.data.wald import read_degraded
from s2sr.errors import InputError
from s2sr.grid import Grid
from s2sr.io.raster import RasterInfo, parse_bands, read_pixels, valid_mask
from s2sr.io.warp import FineHR, pixel_size
from s2sr.sensor import SensorModel


def open_wald_pair(index: int, image: Path, cfg: PrepareConfig) -> Pair:
    """A Wald pair from one image: LR = degrade(image), HR = image (cropped to a multiple of scale)."""
    hr = check_file(image)
    bands = parse_bands(cfg.lr_band_list, hr.count, str(image), "--lr-bands")
    t, s = hr.grid.transform, cfg.scale
    if t.b != 0 or t.d != 0:
        raise InputError(f"{image}: rotated/sheared grid; warp it north-up first (gdalwarp)")
    lw, lh = hr.width // s, hr.height // s
    if min(lw, lh) < cfg.patch_size:
        raise InputError(f"{image}: {hr.width}x{hr.height} px gives {lw}x{lh} LR px at --scale {s}, too small for "
                         f"one {cfg.patch_size} px patch; use a smaller --patch-size or a larger image")
    lr_grid = Grid(Affine(t.a * s, 0.0, t.c, 0.0, t.e * s, t.f), lw, lh)
    lr = RasterInfo(hr.path, hr.crs, lr_grid, hr.count, hr.dtype, hr.nodata, hr.descriptions)
    warp = FineHR(lr, hr, s, t, pixel_size(t), Resampling.nearest)
    pair = Pair(index, lr, hr, bands, bands, s, Window(0, 0, lw, lh), warp, band_names(hr, bands), kind="wald")
    check_not_all_nodata(hr, bands, None)
    return pair


class WaldLRReader:
    """LR windows of a Wald pair, degraded from the HR image on the fly."""

    def __init__(self, ds: object, pair: Pair, sensor: SensorModel) -> None:
        self.ds, self.pair, self.sensor = ds, pair, sensor
        self.dtype = np.dtype(pair.hr.dtype)

    def read(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """(bands, h, w) float32 LR data (rounded like the integer product) and its valid mask."""
        fine = self.pair.fine
        _, lr, lr_ok = read_degraded(self.ds, self.pair.hr_bands, self.sensor, window,
                                     (fine.height, fine.width))
        if self.dtype.kind in "iu":
            info = np.iinfo(self.dtype)
            lr = np.clip(np.rint(lr), info.min, info.max)
        return lr.astype(np.float32), lr_ok

    def valid_fraction(self, window: Window) -> float:
        """Fraction of valid pixels under an LR window (a decimated look at the HR image)."""
        s = self.sensor.scale
        w = Window(int(window.col_off) * s, int(window.row_off) * s, int(window.width) * s, int(window.height) * s)
        h, wd = int(w.height), int(w.width)
        small = read_pixels(self.ds, self.pair.hr_bands, window=w,
                            out_shape=(len(self.pair.hr_bands), min(h, 16), min(wd, 16)))
        return float(valid_mask(small, self.pair.hr.nodata).mean())
