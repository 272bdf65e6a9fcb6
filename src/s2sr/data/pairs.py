"""Open and validate one LR/HR pair; read LR windows and HR windows on the fine grid.

The HR image is never read whole: :mod:`s2sr.io.warp` resamples it, window by window,
onto the fine grid (the LR grid with pixel size LR_res / scale, see
:func:`s2sr.grid.fine_grid`), the same way ``evaluate`` builds its reference. A
co-registration shift moves the HR sampling grid, not the output grid.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from rasterio.crs import CRS
from rasterio.windows import Window

from s2sr.bands import DEFAULT_BANDS
from s2sr.data.config import PrepareConfig
from s2sr.errors import GridError, InputError
from s2sr.grid import Grid, fine_grid, fine_window
from s2sr.io.raster import (
    RasterInfo,
    check_readable_pixels,
    open_raster,
    parse_bands,
    read_pixels,
    valid_mask,
)
from s2sr.io.warp import FineGridReader, FineHR, pixel_size, plan_fine_hr
from s2sr.sensor import SensorModel

if TYPE_CHECKING:
    from s2sr.data.waldpair import WaldLRReader

log = logging.getLogger(__name__)



@dataclass
class Pair:
    """A validated LR/HR pair and the LR window where both have data."""

    index: int
    lr: RasterInfo
    hr: RasterInfo
    lr_bands: list[int]
    hr_bands: list[int]
    scale: int
    window: Window  # LR pixels covered by the HR
    warp: FineHR  # how the HR is brought onto the fine grid
    band_names: list[str]
    warnings: list[str] = field(default_factory=list)
    kind: Literal["pair", "wald"] = "pair"

    @property
    def crs(self) -> CRS | None:
        return self.lr.crs

    @property
    def fine(self) -> Grid:
        return fine_grid(self.lr.grid, self.scale)

    @property
    def lr_res(self) -> float:
        return self.lr.res[0]

    def warn(self, msg: str) -> None:
        self.warnings.append(msg)
        log.warning("%s", msg)


def open_pair(index: int, lr_path: Path, hr_path: Path, cfg: PrepareConfig) -> Pair:
    """Validate a pair (files, bands, dtype, CRS, resolution, overlap) without reading it whole."""
    lr = check_file(lr_path)
    hr = check_file(hr_path)
    lr_bands = parse_bands(cfg.lr_band_list, lr.count, str(lr_path), "--lr-bands")
    hr_bands = parse_bands(cfg.hr_band_list, hr.count, str(hr_path), "--hr-bands")
    if len(lr_bands) != len(hr_bands):
        raise InputError(
            f"{lr_path} / {hr_path}: --lr-bands selects {len(lr_bands)} band(s) but --hr-bands "
            f"{len(hr_bands)}; select the same bands in both (e.g. --lr-bands 1,2,3,4 --hr-bands 3,2,1,4)"
        )
    warp = plan_fine_hr(lr, hr, cfg.scale)  # raises on rotated LR grids and a CRS on one side only
    warnings = [warp.note] if warp.note else []
    warp.check_finer()
    hr_res, lr_res = warp.hr_res, pixel_size(lr.grid.transform)
    want = lr_res / cfg.scale
    if abs(hr_res / want - 1) > 0.1:
        warnings.append(
            f"{hr_path}: HR pixel size {hr_res:.4g} is {100 * (hr_res / want - 1):+.0f}% off "
            f"LR_res/scale = {want:.4g}; it is resampled to {want:.4g}"
        )
    window = overlap_window(lr, hr, warp.hr_bounds, cfg.patch_size)
    names = band_names(lr, lr_bands)
    pair = Pair(index, lr, hr, lr_bands, hr_bands, cfg.scale, window, warp, names)
    for w in warnings:
        pair.warn(w)
    check_not_all_nodata(lr, lr_bands, window)
    check_not_all_nodata(hr, hr_bands, None)
    return pair


def check_file(path: Path) -> RasterInfo:
    """Open ``path`` once: readable pixels, numeric type; its :class:`RasterInfo`."""
    with open_raster(path) as ds:
        check_readable_pixels(ds)
        kinds = {np.dtype(d).kind for d in ds.dtypes}
        if not kinds <= {"i", "u", "f"}:
            raise InputError(
                f"{path}: data type {ds.dtypes[0]} is not integer or float reflectance; "
                "convert it first (e.g. gdal_translate -ot UInt16)"
            )
        return RasterInfo(str(path), ds.crs, Grid(ds.transform, ds.width, ds.height), ds.count,
                          ds.dtypes[0], ds.nodata, tuple(ds.descriptions))


def overlap_window(lr: RasterInfo, hr: RasterInfo, hb: tuple[float, float, float, float], patch: int) -> Window:
    """Whole LR pixels inside the HR footprint ``hb`` (LR CRS); errors when none or too few for one patch."""
    lb = lr.bounds
    ix = (max(lb[0], hb[0]), max(lb[1], hb[1]), min(lb[2], hb[2]), min(lb[3], hb[3]))
    area = max(0.0, ix[2] - ix[0]) * max(0.0, ix[3] - ix[1])
    units = _area_units(lr.crs)
    if area <= 0:
        raise GridError(
            f"{lr.path} and {hr.path}: LR and HR do not overlap (0 {units}); "
            "check that both cover the same place (and their CRS)"
        )
    inv = ~lr.grid.transform
    cols, rows = zip(*(inv @ (x, y) for x in (ix[0], ix[2]) for y in (ix[1], ix[3])), strict=True)
    c0, c1 = math.ceil(min(cols) - 1e-6), math.floor(max(cols) + 1e-6)
    r0, r1 = math.ceil(min(rows) - 1e-6), math.floor(max(rows) + 1e-6)
    c0, r0 = max(c0, 0), max(r0, 0)
    c1, r1 = min(c1, lr.width), min(r1, lr.height)
    if c1 - c0 < patch or r1 - r0 < patch:
        frac = area / ((lb[2] - lb[0]) * (lb[3] - lb[1]))
        raise GridError(
            f"{lr.path} and {hr.path}: LR and HR overlap only {area:.6g} {units} ({frac:.1%} of the LR, "
            f"{max(c1 - c0, 0)}x{max(r1 - r0, 0)} LR px); too small for one {patch}x{patch} patch; "
            "use a larger HR image or a smaller --patch-size"
        )
    return Window(c0, r0, c1 - c0, r1 - r0)


def _area_units(crs: CRS | None) -> str:
    if crs is None:
        return "map units²"
    if crs.is_geographic:
        return "deg²"
    unit = (crs.linear_units or "").lower()
    return "m²" if unit in ("metre", "meter", "m") else f"{unit or 'map unit'}²"


def band_names(lr: RasterInfo, bands: list[int]) -> list[str]:
    """Band names from the LR descriptions, else B2,B3,B4,B8 for 4 bands, else band<i> (logged: the model
    records these names, and ``apply`` matches inputs to them)."""
    desc = [lr.descriptions[b - 1] if b - 1 < len(lr.descriptions) else None for b in bands]
    nums = ",".join(map(str, bands))
    if all(desc) and len(set(desc)) == len(desc):
        log.info("%s: LR bands %s = %s (the file's band names)", lr.path, nums, ",".join(map(str, desc)))
        return [str(d) for d in desc]
    if len(bands) == len(DEFAULT_BANDS):
        log.info("%s: LR bands %s have no names; taken as %s by position (pass --lr-bands to choose others, "
                 "or name the bands)", lr.path, nums, ",".join(DEFAULT_BANDS))
        return list(DEFAULT_BANDS)
    log.info("%s: LR bands %s have no names; recorded as band%s", lr.path, nums, ",band".join(map(str, bands)))
    return [f"band{b}" for b in bands]


def check_not_all_nodata(info: RasterInfo, bands: list[int], window: Window | None) -> None:
    """Raise when every pixel of ``window`` is nodata: a decimated look, then a full scan."""
    with open_raster(info.path) as ds:
        win = window or Window(0, 0, ds.width, ds.height)
        h, w = int(win.height), int(win.width)
        small = read_pixels(ds, bands, window=win, out_shape=(len(bands), min(h, 256), min(w, 256)))
        if valid_mask(small, ds.nodata).any():
            return
        for _, bw in ds.block_windows(1):
            if valid_mask(read_pixels(ds, bands, window=bw), ds.nodata).any():
                return
    raise InputError(
        f"{info.path}: every pixel is nodata ({info.nodata}); check the file, or its nodata value "
        "(gdal_edit.py -unsetnodata / -a_nodata)"
    )


# ---- reading ---------------------------------------------------------------------------
@contextmanager
def lr_reader(pair: Pair, sensor: SensorModel) -> Iterator[LRReader | WaldLRReader]:
    """LR windows of a pair: read from its LR file, or degraded on the fly for a Wald pair."""
    with open_raster(pair.lr.path) as ds:
        if pair.kind == "wald":
            from s2sr.data.waldpair import WaldLRReader

            yield WaldLRReader(ds, pair, sensor)
        else:
            yield LRReader(ds, pair)


class LRReader:
    def __init__(self, ds: object, pair: Pair) -> None:
        self.ds, self.pair = ds, pair

    def read(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """(bands, h, w) float32 LR data and its (h, w) valid mask."""
        data = read_pixels(self.ds, self.pair.lr_bands, window=window)
        return data.astype(np.float32), valid_mask(data, self.ds.nodata)  # type: ignore[attr-defined]

    def valid_fraction(self, window: Window) -> float:
        """Fraction of valid pixels in ``window`` (a decimated read: cheap)."""
        h, w = int(window.height), int(window.width)
        small = read_pixels(self.ds, self.pair.lr_bands, window=window,
                            out_shape=(len(self.pair.lr_bands), min(h, 16), min(w, 16)))
        return float(valid_mask(small, self.ds.nodata).mean())  # type: ignore[attr-defined]


@contextmanager
def hr_reader(pair: Pair, shift: tuple[float, float] = (0.0, 0.0)) -> Iterator[HRReader]:
    """HR resampled onto the fine grid; ``shift`` (dx, dy LR px, LR relative to HR) is undone."""
    with pair.warp.open(pair.hr_bands, shift) as fine:
        yield HRReader(fine, pair.scale)


class HRReader:
    def __init__(self, fine: FineGridReader, scale: int) -> None:
        self.fine, self.scale = fine, scale

    def read(self, lr_window: Window, margin: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """HR (bands, h*s, w*s) float32 under the LR window grown by ``margin`` LR px, and its mask."""
        w = Window(lr_window.col_off - margin, lr_window.row_off - margin,
                   lr_window.width + 2 * margin, lr_window.height + 2 * margin)
        return self.fine.read(fine_window(w, self.scale))
