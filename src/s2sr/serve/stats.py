"""Display stretch: per-band 2-98 % percentiles, read once per file from an overview and cached."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import numpy as np
from rasterio.enums import Resampling

from s2sr.errors import InputError
from s2sr.io.raster import open_raster, read_pixels

log = logging.getLogger(__name__)

Stretch = tuple[tuple[float, float], ...]
MAX_SIDE = 1024  # longest side of the decimated read; GDAL serves it from an overview
_cache: dict[tuple[str, int, int, tuple[int, ...], float, float], Stretch] = {}
_lock = threading.Lock()


def _decimated_shape(width: int, height: int, max_side: int) -> tuple[int, int]:
    f = max(width, height) / max_side
    if f <= 1:
        return height, width
    return max(1, round(height / f)), max(1, round(width / f))


def compute_stretch(
    path: str | os.PathLike[str],
    indexes: tuple[int, ...],
    lo: float = 2.0,
    hi: float = 98.0,
    max_side: int = MAX_SIDE,
) -> Stretch:
    """Per-band (``lo``, ``hi``) percentiles of the valid pixels, from a read of at most ``max_side``."""
    with open_raster(path) as ds:
        h, w = _decimated_shape(ds.width, ds.height, max_side)
        data = read_pixels(ds, list(indexes), out_shape=(len(indexes), h, w), masked=True,
                           resampling=Resampling.nearest)
    out = []
    for band, arr in zip(indexes, data, strict=True):
        vals = arr.compressed().astype(np.float64)
        vals = vals[np.isfinite(vals)]
        if vals.size == 0:
            raise InputError(f"{path}: band {band} has no valid pixels; check its nodata value")
        a, b = np.percentile(vals, [lo, hi])
        if b <= a:
            b = a + 1.0
        out.append((round(float(a), 3), round(float(b), 3)))
    log.debug("stretch %s bands %s: %s", path, indexes, out)
    return tuple(out)


def cached_stretch(path: str | os.PathLike[str], indexes: tuple[int, ...],
                   lo: float = 2.0, hi: float = 98.0) -> Stretch:
    """:func:`compute_stretch`, cached per (file, size, mtime, bands, percentiles)."""
    st = Path(path).stat()
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns, tuple(indexes), lo, hi)
    with _lock:
        if key in _cache:
            return _cache[key]
    value = compute_stretch(path, indexes, lo, hi)
    with _lock:
        _cache[key] = value
    return value


def parse_rescale(values: list[str], nbands: int) -> Stretch:
    """``?rescale=min,max`` (all bands) or one ``rescale`` per band; ValueError when malformed."""
    pairs = []
    for v in values:
        parts = v.split(",")
        if len(parts) != 2:
            raise ValueError(f"rescale={v!r}: expected min,max")
        try:
            a, b = (float(p) for p in parts)
        except ValueError:
            raise ValueError(f"rescale={v!r}: expected two numbers min,max") from None
        if not (np.isfinite(a) and np.isfinite(b)) or b <= a:
            raise ValueError(f"rescale={v!r}: expected finite min < max")
        pairs.append((a, b))
    if len(pairs) == 1:
        pairs = pairs * nbands
    if len(pairs) != nbands:
        raise ValueError(f"rescale given {len(pairs)} times; give it once or once per band ({nbands})")
    return tuple(pairs)
