"""One tile: read its input window, fill nodata, pad, run the model, crop and weight.

Reading (:func:`read_tile`) and computing (:func:`predict_tile`) are separate so
the local pipeline can overlap them in threads; a Dask worker calls both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import rasterio

from s2sr.infer.tiling import Tile, TilePlan
from s2sr.io.raster import read_pixels, valid_mask

# (1, C, h, w) float32 in input units -> (1, C, h*s, w*s) float32 in input units
Predictor = Callable[[np.ndarray], np.ndarray]


@dataclass
class TileInput:
    tile: Tile
    data: np.ndarray  # (C, h, w) as read (unpadded, input dtype)


@dataclass
class TileResult:
    """Prediction over the tile footprint (blend weights are applied by the sink), or ``None``
    when the footprint is all nodata."""

    tile: Tile
    data: np.ndarray | None  # (C, fh*s, fw*s) float32, not weighted
    valid: np.ndarray  # (fh, fw) bool on the LR grid: LR parent pixel is valid


def read_tile(ds: rasterio.DatasetReader, plan: TilePlan, t: Tile, bands: list[int]) -> TileInput:
    """Read the scene part of tile ``t``'s input window (padding happens in :func:`predict_tile`)."""
    return TileInput(t, read_pixels(ds, bands, window=plan.read(t).window))


def fill_invalid(data: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """float32 copy of ``data`` with invalid pixels set to the per-band mean of the valid ones."""
    x = data.astype(np.float32)
    if valid.all():
        return x
    for b in range(x.shape[0]):
        band = x[b]
        band[~valid] = float(band[valid].mean(dtype=np.float64))
    return x


def pad_input(x: np.ndarray, pad: tuple[tuple[int, int], tuple[int, int]], mode: str) -> np.ndarray:
    """Pad (C, h, w) by ``pad`` with ``reflect`` (mirror, edge not repeated) or ``replicate``."""
    if not any(pad[0] + pad[1]):
        return x
    if mode == "reflect" and min(x.shape[1:]) > 1:
        return np.pad(x, ((0, 0), pad[0], pad[1]), mode="reflect")
    return np.pad(x, ((0, 0), pad[0], pad[1]), mode="edge")


def predict_tile(
    predictor: Predictor,
    plan: TilePlan,
    tin: TileInput,
    nodata: float | None,
    edge: str = "reflect",
) -> TileResult:
    """Model output of one tile over its footprint (a view of the model output)."""
    t = tin.tile
    read = plan.read(t)
    valid_in = valid_mask(tin.data, nodata)
    valid_pad = pad_input(valid_in[None], read.pad, "replicate")[0]
    fp = plan.footprint(t)
    ry, rx = plan.y.read_span(t[0]), plan.x.read_span(t[1])
    oy, ox = int(fp.row_off) - ry[0], int(fp.col_off) - rx[0]
    valid = valid_pad[oy: oy + int(fp.height), ox: ox + int(fp.width)].copy()
    if not valid_in.any() or not valid.any():
        return TileResult(t, None, valid)
    x = pad_input(fill_invalid(tin.data, valid_in), read.pad, edge)
    y = predictor(np.ascontiguousarray(x[None]))[0]
    sy, sx = plan.crop(t)
    return TileResult(t, y[:, sy, sx], valid)
