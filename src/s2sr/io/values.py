"""Float values to raster pixels: rounding and clipping to the data type, nodata where invalid."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OutputSpec:
    """How model values become output pixels."""

    dtype: str
    nodata: float | None


def to_output(values: np.ndarray, valid: np.ndarray | None, spec: OutputSpec) -> np.ndarray:
    """Round/clip ``values`` (C, h, w) to ``spec.dtype``; set pixels where ``valid`` is False to nodata.

    ``valid`` (h, w) may be ``None`` when every pixel is valid. Valid pixels that would equal
    the nodata value are nudged by one unit so they stay valid. Memory layout is kept.
    """
    dt = np.dtype(spec.dtype)
    if np.issubdtype(dt, np.integer):
        info = np.iinfo(dt)
        tmp = np.clip(values, info.min, info.max)  # then rint: the same as rint then clip (integer bounds)
        np.rint(tmp, out=tmp)
        out = tmp.astype(dt)
        if spec.nodata is not None:
            nd = dt.type(spec.nodata)
            hit = out == nd
            if hit.any():
                if valid is not None:
                    hit &= valid[None]
                out[hit] = nd + 1 if nd < info.max else nd - 1
    else:
        out = values.astype(dt)
    if valid is not None:
        fill = spec.nodata if spec.nodata is not None else np.nan
        out[:, ~valid] = fill
    return out
