"""The "SR confidence" layer: the 90 % half-width of ``apply --uncertainty`` as a colour ramp.

A tile shows, per pixel, the mean over the true-colour bands of the half-width of the
calibrated interval (output units). Below the layer's ``lo`` (by default the scene's median:
the confident half) the tile is transparent; from ``lo`` to ``hi`` (the 98th percentile) the
colour runs from pale yellow to dark red and grows opaque. The legend (``/layers``) carries the
numbers and the level the file was written at.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.enums import Resampling

from s2sr.errors import GridError, InputError
from s2sr.io.raster import open_raster, read_info

log = logging.getLogger(__name__)

TITLE = "SR confidence"
# colour stops (position 0..1, r, g, b, alpha 0..255): pale yellow, orange, red, dark red
RAMP = ((0.0, 255, 255, 178, 90), (0.33, 254, 178, 76, 150), (0.66, 240, 59, 32, 200), (1.0, 128, 0, 38, 230))


def uncertainty_beside(sr: Path) -> Path | None:
    """``<SR stem>.uncertainty.tif`` when it exists beside the SR image."""
    p = sr.with_name(f"{sr.stem}.uncertainty{sr.suffix}")
    return p if p.is_file() else None


def describe(path: Path, sr_info: Any) -> tuple[float, str]:
    """(level, units note) of an uncertainty file; one-line errors when it is not one or not on the SR's grid."""
    info = read_info(path)
    with open_raster(path) as ds:
        tags = ds.tags()
    if "S2SR_UNCERTAINTY_LEVEL" not in tags:
        raise InputError(f"{path}: not an uncertainty file of `s2sr apply --uncertainty` (no S2SR_UNCERTAINTY_LEVEL "
                         "tag); pass the OUT.uncertainty.tif written beside the SR")
    a, b = info.bounds, sr_info.bounds
    tol = 2 * max(abs(info.grid.transform.a), abs(sr_info.grid.transform.a))
    if info.crs != sr_info.crs or any(abs(x - y) > tol for x, y in zip(a, b, strict=True)):
        raise GridError(f"{path}: not on the grid of the SR image it should describe; pass the uncertainty file "
                        "written with that SR")
    return float(tags["S2SR_UNCERTAINTY_LEVEL"]), "output units"


def value_range(path: str | os.PathLike[str], indexes: tuple[int, ...], max_side: int = 1024) -> tuple[float, float]:
    """(median, 98th percentile) of the band-mean half-width, from a decimated read."""
    with open_raster(path) as ds:
        f = max(ds.width, ds.height) / max_side
        h, w = (ds.height, ds.width) if f <= 1 else (max(1, round(ds.height / f)), max(1, round(ds.width / f)))
        data = ds.read(list(indexes), out_shape=(len(indexes), h, w), masked=True, resampling=Resampling.nearest)
    mean = data.mean(axis=0)
    vals = mean.compressed().astype(np.float64)
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        raise InputError(f"{path}: no valid pixels; check its nodata value")
    lo, hi = np.percentile(vals, [50, 98])
    return round(float(lo), 3), round(float(max(hi, lo + 1e-6)), 3)


def ramp_colours(t: np.ndarray) -> np.ndarray:
    """(4, ...) uint8 RGBA for positions ``t`` in [0, 1] along :data:`RAMP`."""
    pos = np.array([s[0] for s in RAMP])
    return np.stack([np.interp(t, pos, [s[k] for s in RAMP]) for k in range(1, 5)]).round().astype(np.uint8)


def legend_stops(n: int = 5) -> list[str]:
    """CSS ``rgba()`` colours of the ramp at ``n`` evenly spaced positions (for the legend bar)."""
    c = ramp_colours(np.linspace(0, 1, n))
    return [f"rgba({c[0, i]},{c[1, i]},{c[2, i]},{c[3, i] / 255:.2f})" for i in range(n)]


def render(data: np.ma.MaskedArray, lo: float, hi: float, fmt: str) -> bytes:
    """Encode a (bands, h, w) masked tile of half-widths as an RGBA image."""
    from rio_tiler.utils import render as encode

    mean = np.ma.getdata(data).astype(np.float64).mean(axis=0)
    valid = ~np.ma.getmaskarray(data).any(axis=0) & np.isfinite(mean)
    t = np.clip((mean - lo) / (hi - lo), 0, 1)
    rgba = ramp_colours(t)
    rgba[3][~valid | (mean < lo)] = 0
    options: dict[str, Any] = {"ZLEVEL": 1} if fmt == "png" else {}  # as tiles.ENCODE_OPTIONS
    return encode(rgba[:3], mask=rgba[3], img_format=fmt.upper(), **options)
