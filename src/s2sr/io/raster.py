"""Open and describe rasters with errors that name the file and the fix."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.windows import Window

from s2sr.errors import InputError
from s2sr.grid import Grid, clip_window


@dataclass(frozen=True)
class RasterInfo:
    """What the pipeline needs to know about a raster, read once."""

    path: str
    crs: CRS | None
    grid: Grid
    count: int
    dtype: str
    nodata: float | None
    descriptions: tuple[str | None, ...]

    @property
    def res(self) -> tuple[float, float]:
        return self.grid.res

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return self.grid.bounds

    @property
    def width(self) -> int:
        return self.grid.width

    @property
    def height(self) -> int:
        return self.grid.height


def open_raster(path: str | os.PathLike[str], **kwargs: Any) -> rasterio.DatasetReader:
    """``rasterio.open`` for reading, with one-line errors for missing/corrupt files."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: file not found; check the path")
    if p.is_dir():
        raise InputError(f"{p}: is a directory, expected a GeoTIFF file")
    try:
        with pixel_grids_ok():
            return rasterio.open(p, **kwargs)
    except RasterioIOError as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise InputError(
            f"{p}: not a readable raster ({msg}); re-export it as GeoTIFF (e.g. gdal_translate)"
        ) from None


@contextmanager
def pixel_grids_ok() -> Iterator[None]:
    """Open or write rasters without georeferencing (DSen2-like pixel grids) quietly: s2sr supports them on
    purpose and logs its own line ("no CRS; the output keeps its pixel grid"), so rasterio's
    NotGeoreferencedWarning about them is not shown."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        yield


def read_info(path: str | os.PathLike[str]) -> RasterInfo:
    """Read the header of ``path`` (no pixels)."""
    with open_raster(path) as ds:
        return RasterInfo(
            path=str(path),
            crs=ds.crs,
            grid=Grid(ds.transform, ds.width, ds.height),
            count=ds.count,
            dtype=ds.dtypes[0],
            nodata=ds.nodata,
            descriptions=tuple(ds.descriptions),
        )


def parse_bands(spec: str | list[int] | None, count: int, path: str, option: str) -> list[int]:
    """Parse a 1-based band list like ``"1,2,3,4"``; default: all bands (1..count)."""
    if spec is None:
        return list(range(1, count + 1))
    if isinstance(spec, str):
        try:
            bands = [int(b) for b in spec.replace(" ", "").split(",") if b]
        except ValueError:
            raise InputError(f"{option} {spec!r}: expected comma-separated band numbers like 1,2,3,4") from None
    else:
        bands = [int(b) for b in spec]
    bad = [b for b in bands if not 1 <= b <= count]
    if not bands or bad:
        raise InputError(
            f"{path}: has {count} band(s), {option} asks for {bands}; pass {option} with indices 1..{count}"
        )
    return bands


def read_pixels(ds: rasterio.DatasetReader, indexes: Any = None, **kwargs: Any) -> np.ndarray:
    """``ds.read(indexes, **kwargs)``; a corrupt or truncated block is an InputError naming the file."""
    try:
        return ds.read(indexes, **kwargs)
    except RasterioIOError as e:
        raise InputError(f"{ds.name}: pixel data is corrupt or truncated ({_gdal_detail(e)}); "
                         "re-download or re-export it") from None


def _gdal_detail(e: RasterioIOError) -> str:
    """GDAL's own first line (rasterio's 'Read failed' only points to the exception before it)."""
    cause = e.__cause__ or e.__context__
    return str(cause or e).splitlines()[0] if str(cause or e) else type(e).__name__


def check_readable_pixels(ds: rasterio.DatasetReader) -> None:
    """Read the first and the last block to catch truncated/corrupt files early."""
    read_pixels(ds, 1, window=((0, min(16, ds.height)), (0, min(16, ds.width))))
    read_pixels(ds, 1, window=((ds.height - 1, ds.height), (ds.width - 1, ds.width)))


def read_padded(ds: rasterio.DatasetReader, bands: list[int], window: Window, fill: float) -> tuple[np.ndarray, np.ndarray]:
    """float32 ``window`` of ``ds`` (it may reach outside) and its valid mask; outside pixels are ``fill``."""
    c0, r0 = int(window.col_off), int(window.row_off)
    w, h = int(window.width), int(window.height)
    out = np.full((len(bands), h, w), fill, np.float32)
    valid = np.zeros((h, w), bool)
    inner = clip_window(window, ds.width, ds.height)
    if inner.width > 0 and inner.height > 0:
        data = read_pixels(ds, bands, window=inner)
        rows = slice(int(inner.row_off) - r0, int(inner.row_off + inner.height) - r0)
        cols = slice(int(inner.col_off) - c0, int(inner.col_off + inner.width) - c0)
        out[:, rows, cols] = data
        valid[rows, cols] = valid_mask(data, ds.nodata)
    return out, valid


def valid_mask(data: np.ndarray, nodata: float | None) -> np.ndarray:
    """(H, W) boolean mask: True where every band is valid (not nodata, finite)."""
    ok = np.all(np.isfinite(data), axis=0) if np.issubdtype(data.dtype, np.floating) else np.ones(data.shape[1:], bool)
    if nodata is not None and not (isinstance(nodata, float) and np.isnan(nodata)):
        ok &= np.all(data != nodata, axis=0)
    return ok
