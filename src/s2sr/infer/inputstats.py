"""An input image's value statistics against the model's training input (``input_stats``).

A bounded sample of valid pixels (:func:`sample_pixels`) gives per-band percentiles p01, p50
and p99 like those the bundle stores for its training LR data. Two questions are asked:

* :func:`scale_problem`: are the values on another scale than training? 8-bit data (uint8, or
  integers all <= 255) for a model trained on values well above 255; or band medians (or
  99th percentiles) more than 4x below, or 8x above, training on every band (reflectance
  x 1000 or 0..1 floats instead of x 10000).
* :func:`likely_band_order`: does another order of the bands fit the training pattern clearly
  better? Features per band are log percentiles centred across bands per percentile (so a
  global gain or a different atmosphere level cancels), compared with weights 0.5 (p01),
  0.5 (p50) and 1 (p99) for every permutation. Another order is reported only when its
  distance is at most half the given order's and lower by at least 0.05. Thresholds chosen on
  the real samples (40 OSCD cities, DSen2, eo-learn) as L1C, L2A-like (per-band offsets),
  processing baseline 04.00 (+1000), x0.4, x2.5 and +-10 % / +-100 per-band variants: none of
  these 440 cases warns with training statistics from ten OSCD cities, and B4,B3,B2,B8 given
  for B2,B3,B4,B8 is recognised on 39 of the 40 L1C cities (L2A-like: 6 of 44; a warning,
  not a guarantee). See docs/apply.md.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import rasterio
from rasterio.windows import Window

from s2sr.io.raster import read_pixels, valid_mask

STATS = ("p01", "p50", "p99")
SAMPLE_PIXELS = 1_000_000  # about this many pixels are read per band, whatever the image size
WINDOWS = 8  # k x k windows spread over large images without overviews
MIN_PIXELS = 100  # fewer valid sampled pixels: no value checks
ORDER_WEIGHTS = np.array([0.5, 0.5, 1.0])[:, None]
ORDER_RATIO = 0.5
ORDER_GAP = 0.05
MAX_ORDER_BANDS = 6  # 720 permutations
SCALE_DOWN = 4.0  # every band this many times below training: another scale (x 1000, 0..1 floats)
SCALE_UP = 8.0  # ... above: higher, as fresh snow or cloud reach 4x training in every band
EIGHT_BIT = 255.0


@dataclass(frozen=True)
class ValueStats:
    """Percentiles per band (in the order of the selected bands), the maximum and the sample size."""

    p01: np.ndarray
    p50: np.ndarray
    p99: np.ndarray
    vmax: float
    pixels: int

    def table(self) -> np.ndarray:
        return np.stack([self.p01, self.p50, self.p99])


def sample_pixels(ds: rasterio.DatasetReader, bands: list[int]) -> np.ndarray:
    """(bands, N) float64 valid pixels from a bounded, decimated read of ``ds``.

    Small images (<= 4 x SAMPLE_PIXELS) and images with overviews: one decimated read (GDAL
    picks an overview); larger ones: WINDOWS x WINDOWS full-resolution windows spread evenly.
    Nodata pixels, non-finite ones and pixels 0 on every band (unflagged fill) are dropped.
    """
    w, h = ds.width, ds.height
    if w * h <= 4 * SAMPLE_PIXELS or ds.overviews(bands[0]):
        f = max(1, math.ceil(math.sqrt(w * h / SAMPLE_PIXELS)))
        data = read_pixels(ds, bands, out_shape=(len(bands), max(1, h // f), max(1, w // f)))
        parts = [data.reshape(len(bands), -1)]
    else:
        side = int(math.sqrt(SAMPLE_PIXELS) / WINDOWS)
        parts = []
        for i in range(WINDOWS):
            for j in range(WINDOWS):
                col = int((w - side) * (j + 0.5) / WINDOWS)
                row = int((h - side) * (i + 0.5) / WINDOWS)
                parts.append(read_pixels(ds, bands, window=Window(col, row, side, side)).reshape(len(bands), -1))
    px = np.concatenate(parts, axis=1)
    ok = valid_mask(px[:, :, None], ds.nodata)[:, 0] & np.any(px != 0, axis=0)
    return px[:, ok].astype(np.float64)


def value_stats(px: np.ndarray) -> ValueStats | None:
    """Percentiles of sampled pixels (None when too few to say anything)."""
    if px.shape[1] < MIN_PIXELS:
        return None
    p01, p50, p99 = np.percentile(px, [1, 50, 99], axis=1)
    return ValueStats(p01, p50, p99, float(px.max()), int(px.shape[1]))


def training_table(input_stats: dict[str, list[float]], n_bands: int) -> np.ndarray | None:
    """(3, bands) p01/p50/p99 of the training input, or None when the bundle has none (older bundles)."""
    try:
        t = np.array([[float(v) for v in input_stats[k]] for k in STATS])
    except (KeyError, TypeError, ValueError):
        return None
    return t if t.shape == (3, n_bands) and np.all(np.isfinite(t)) else None


def scale_problem(seen: ValueStats, train: np.ndarray, dtype: str) -> tuple[str, float] | None:
    """(what, factor to apply) when the values are on another scale than training, else None.

    ``what`` is "8-bit" or a phrase like "about 10x smaller"; ``factor`` (a power of ten) is
    what to multiply the input by.
    Another scale: the medians, or the 99th percentiles, are below training by more than
    SCALE_DOWN, or above it by more than SCALE_UP, on every band (the p99 catches bright
    deserts at x 1000, whose medians sit only 3-4x below training's).
    """
    integer = np.issubdtype(np.dtype(dtype), np.integer)
    if float(train[2].max()) > 4 * EIGHT_BIT and integer and (dtype == "uint8" or seen.vmax <= EIGHT_BIT):
        return "8-bit", _factor(seen, train)
    for k in (1, 2):
        ok = train[k] > 0
        if not ok.any():
            continue
        ratio = np.maximum(seen.table()[k][ok], 1e-12) / train[k][ok]
        if np.all(ratio < 1 / SCALE_DOWN) or np.all(ratio > SCALE_UP):
            factor = _factor(seen, train)
            word = f"about {factor:g}x smaller" if factor > 1 else f"about {1 / factor:g}x larger"
            return word, factor
    return None


def _factor(seen: ValueStats, train: np.ndarray) -> float:
    """What to multiply the input by, as a power of ten (x 1000 vs x 10000, 0..1 floats, percent):
    the geometric mean of the training / input medians and 99th percentiles, rounded in log10."""
    t, s = train[1:], seen.table()[1:]
    ok = (t > 0) & (s > 0)
    if not ok.any():
        return 1.0
    x = float(np.mean(np.log10(t[ok] / s[ok])))
    k = round(x) or (1 if x > 0 else -1)
    return 10.0**k


def order_distances(seen: np.ndarray, train: np.ndarray) -> dict[tuple[int, ...], float]:
    """Distance of each band order to the training pattern; key ``p``: model band b is input band p[b]."""
    floor = 1e-3 * float(np.max(train[2]))
    f_in, f_tr = (_pattern(np.maximum(a, floor)) for a in (seen, train))
    n = train.shape[1]
    return {p: float((ORDER_WEIGHTS * (f_in[:, list(p)] - f_tr) ** 2).sum()) for p in itertools.permutations(range(n))}


def _pattern(t: np.ndarray) -> np.ndarray:
    g = np.log(t)
    return g - g.mean(axis=1, keepdims=True)


def likely_band_order(seen: ValueStats, train: np.ndarray) -> tuple[int, ...] | None:
    """A band order (0-based positions in the input's selection, per model band) that fits the
    training pattern clearly better than the given one, else None."""
    n = train.shape[1]
    if n < 2 or n > MAX_ORDER_BANDS or float(np.max(train[2])) <= 0:
        return None
    d = order_distances(seen.table(), train)
    ident = tuple(range(n))
    best = min(d, key=lambda p: d[p])
    if best != ident and d[best] <= ORDER_RATIO * d[ident] and d[ident] - d[best] >= ORDER_GAP:
        return best
    return None
