"""One tile: read its input window, fill nodata, pad, run the model, crop and weight.

Reading (:func:`read_tile`) and computing (:func:`predict_tile`) are separate so
the local pipeline can overlap them in threads; a Dask worker calls both. What
every tile of one run shares travels as a :class:`TileJob`.

Nodata is filled from the neighbourhood only, never from where a tile starts: an
invalid pixel becomes the mean of the valid pixels in the square of
``fill_radius`` LR pixels around it (or the model's mean, where there are none).
Each tile reads ``fill_radius`` extra pixels of the scene for that, so the fill of
every pixel it uses is the same in every tile plan. With ``fill_radius`` at least
the receptive field, the fallback never reaches a valid output pixel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window

from s2sr.grid import clip_window
from s2sr.infer.tiling import Tile, TilePlan
from s2sr.io.raster import read_pixels, valid_mask

# (N, C, h, w) float32 in input units -> (N, C, h*s, w*s) float32 in input units
Predictor = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class TileJob:
    """What every tile of one streamed inference shares."""

    src: Path
    plan: TilePlan
    bands: list[int]
    nodata: float | None
    edge: str = "reflect"  # padding at scene edges: reflect | replicate
    fill_radius: int = 1  # LR px around a nodata pixel whose valid pixels fill it
    fill_value: tuple[float, ...] = ()  # per band, where no valid pixel is that near (default 0)


@dataclass
class TileInput:
    tile: Tile
    data: np.ndarray  # (C, h, w) as read (unpadded, input dtype), the read window plus the fill context
    inner: tuple[slice, slice]  # the read window inside ``data``


@dataclass
class TileResult:
    """Prediction over the tile support (blend weights are applied by the sink), or ``None``
    when the support is all nodata."""

    tile: Tile
    data: np.ndarray | None  # (C, fh*s, fw*s) float32, not weighted
    valid: np.ndarray  # (fh, fw) bool on the LR grid: LR parent pixel is valid


def read_tile(ds: rasterio.DatasetReader, job: TileJob, t: Tile) -> TileInput:
    """Read the scene part of tile ``t``'s input window and ``fill_radius`` pixels around it."""
    w, r = job.plan.read(t).window, job.fill_radius
    grown = clip_window(Window(w.col_off - r, w.row_off - r, w.width + 2 * r, w.height + 2 * r),
                        job.plan.scene_width, job.plan.scene_height)
    r0, c0 = int(w.row_off - grown.row_off), int(w.col_off - grown.col_off)
    inner = (slice(r0, r0 + int(w.height)), slice(c0, c0 + int(w.width)))
    return TileInput(t, read_pixels(ds, job.bands, window=grown), inner)


def _box_sum(a: np.ndarray, r: int) -> np.ndarray:
    """Sum of ``a`` (..., h, w) over the (2r+1)^2 square around each pixel, cut at the array edges."""
    h, w = a.shape[-2:]
    c = np.zeros((*a.shape[:-2], h + 1, w + 1), a.dtype)
    c[..., 1:, 1:] = a.cumsum(-2).cumsum(-1)
    y0, y1 = np.clip(np.arange(h) - r, 0, h)[:, None], np.clip(np.arange(h) + r + 1, 0, h)[:, None]
    x0, x1 = np.clip(np.arange(w) - r, 0, w), np.clip(np.arange(w) + r + 1, 0, w)
    return c[..., y1, x1] - c[..., y0, x1] - c[..., y1, x0] + c[..., y0, x0]


def fill_invalid(data: np.ndarray, valid: np.ndarray, radius: int = 1,
                 fallback: tuple[float, ...] = ()) -> np.ndarray:
    """float32 copy of ``data`` with each invalid pixel set to the mean of the valid pixels within
    ``radius`` (a square), or to ``fallback`` (per band; default 0) where there are none."""
    x = data.astype(np.float32)
    if valid.all():
        return x
    n = _box_sum(valid.astype(np.int64), radius)
    s = _box_sum(np.where(valid, x, 0).astype(np.float64), radius)
    hole, near = ~valid, n > 0
    fb = np.asarray(fallback or (0.0,) * x.shape[0], np.float32)
    for b in range(x.shape[0]):
        band = x[b]
        band[hole & near] = (s[b][hole & near] / n[hole & near]).astype(np.float32)
        band[hole & ~near] = fb[b]
    return x


def pad_input(x: np.ndarray, pad: tuple[tuple[int, int], tuple[int, int]], mode: str) -> np.ndarray:
    """Pad (C, h, w) by ``pad`` with ``reflect`` (mirror, edge not repeated) or ``replicate``."""
    if not any(pad[0] + pad[1]):
        return x
    if mode == "reflect" and min(x.shape[1:]) > 1:
        return np.pad(x, ((0, 0), pad[0], pad[1]), mode="reflect")
    return np.pad(x, ((0, 0), pad[0], pad[1]), mode="edge")


@dataclass
class _Prepared:
    tile: Tile
    x: np.ndarray | None  # (C, h, w) float32 model input, or None when the support is all nodata
    valid: np.ndarray


def prepare_tile(job: TileJob, tin: TileInput) -> _Prepared:
    """Validity over the support, and the filled, padded model input (None if nothing is valid)."""
    t, plan = tin.tile, job.plan
    read = plan.read(t)
    valid_all = valid_mask(tin.data, job.nodata)
    valid_in = valid_all[tin.inner]
    valid_pad = pad_input(valid_in[None], read.pad, "replicate")[0]
    fp = plan.support(t)
    ry, rx = plan.y.read_span(t[0]), plan.x.read_span(t[1])
    oy, ox = int(fp.row_off) - ry[0], int(fp.col_off) - rx[0]
    valid = valid_pad[oy: oy + int(fp.height), ox: ox + int(fp.width)].copy()
    if not valid_in.any() or not valid.any():
        return _Prepared(t, None, valid)
    filled = fill_invalid(tin.data, valid_all, job.fill_radius, job.fill_value)[(slice(None), *tin.inner)]
    return _Prepared(t, pad_input(filled, read.pad, job.edge), valid)


def predict_tiles(predictor: Predictor, job: TileJob, tins: list[TileInput]) -> list[TileResult]:
    """Model output of tiles over their supports; inputs of equal shape go through the model as one batch."""
    prep = [prepare_tile(job, tin) for tin in tins]
    out: dict[Tile, np.ndarray] = {}
    todo = [p for p in prep if p.x is not None]
    while todo:
        shape = todo[0].x.shape  # type: ignore[union-attr]
        batch = [p for p in todo if p.x.shape == shape]  # type: ignore[union-attr]
        todo = [p for p in todo if p.x.shape != shape]  # type: ignore[union-attr]
        y = predictor(np.ascontiguousarray(np.stack([p.x for p in batch])))  # type: ignore[misc]
        for i, p in enumerate(batch):
            out[p.tile] = y[i]
    results = []
    for p in prep:
        if p.x is None:
            results.append(TileResult(p.tile, None, p.valid))
            continue
        sy, sx = job.plan.crop(p.tile)
        results.append(TileResult(p.tile, out[p.tile][:, sy, sx], p.valid))
    return results


def predict_tile(predictor: Predictor, job: TileJob, tin: TileInput) -> TileResult:
    """Model output of one tile over its support (a view of the model output)."""
    return predict_tiles(predictor, job, [tin])[0]
