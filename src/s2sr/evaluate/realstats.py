"""Statistics of a super-resolved image against its own input, with no reference: what shows on
real Sentinel-2, where no finer image exists.

- :func:`grid_peak`: power at the LR sampling frequency (1 / scale cycle per output pixel, along x,
  y and the diagonal) over the median power of the neighbouring frequency bins, from a 2-D
  periodogram of 512 px tiles. A pattern locked to the 10 m pixel grid (a checkerboard) is a spike
  there; real 2.5 m images read 1.2-6.3 and PyTorch's bicubic 0.4-8 (GDAL's cubic has a zero there).
- :func:`clipped_share`: share of output pixels at or below 0 (they are clipped when written as
  unsigned integers), minus the input's share of such pixels, per band.
- :func:`mean_shift`: per-band mean of the output (values below 0 as 0, as written to unsigned
  integers) against the input's, in percent.
- :func:`outside_local_range`: share of output pixels outside the range of the 3 x 3 LR
  neighbourhood of their LR pixel, widened by ``tol`` times the band's 1-99 % input range:
  overshoot (halos), and what real finer images do anyway at sub-pixel extremes.
- :func:`spectral_angle`: mean spectral angle (degrees) between the output and bicubic.

All take (C, h, w) LR and (C, h*s, w*s) outputs as float arrays in input units.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.ndimage import maximum_filter, minimum_filter

SEGMENT = 512  # px a side of the periodogram tiles (Welch, half overlap, Hann window)
NEIGHBOURS = (2, 12)  # the reference bins: a box of +-12 bins around the peak bin, less its +-1 bins


def periodogram2d(img: np.ndarray, segment: int) -> np.ndarray:
    """Mean 2-D power spectrum of de-meaned, Hann-windowed ``segment`` px tiles (half overlap), as the
    non-negative column half of the full spectrum (a real image's spectrum is symmetric)."""
    from scipy import fft

    a = np.asarray(img, np.float64)
    h, w = a.shape
    win = np.outer(np.hanning(segment), np.hanning(segment))
    acc, n = np.zeros((segment, segment // 2 + 1)), 0
    step = segment // 2
    for r in range(0, h - segment + 1, step):
        tiles = np.stack([a[r:r + segment, c:c + segment] for c in range(0, w - segment + 1, step)])
        tiles = (tiles - tiles.mean(axis=(1, 2), keepdims=True)) * win
        acc += (np.abs(fft.rfft2(tiles, workers=-1)) ** 2).sum(axis=0)
        n += len(tiles)
    return acc / n


def _bins(p: np.ndarray, rows: np.ndarray, cols: np.ndarray, n: int) -> np.ndarray:
    """Full-spectrum bins (rows x cols, any signs) from the half spectrum ``p``: P[r, -c] = P[-r, c]."""
    r, c = np.meshgrid(rows, cols, indexing="ij")
    neg = c < 0
    r = np.where(neg, -r, r) % n
    return p[r, np.abs(c)]


def grid_peak(img: np.ndarray, scale: int, segment: int = SEGMENT) -> float:
    """Peak ratio of a 2-D image at 1/scale cycle per pixel: the power at the frequency bins (0, k),
    (k, 0) and (k, k), k = segment / scale, over the median of their neighbourhoods; the largest of
    the three. Images smaller than ``segment`` use one tile of their largest multiple of ``scale``
    (ratios of pure patterns grow with the tile's area: compare figures at one segment size)."""
    n = min(segment, (min(img.shape) // (2 * scale)) * 2 * scale)
    if n < 8 * scale:
        raise ValueError(f"image of {img.shape} px is too small for the grid-peak statistic (needs {8 * scale} px)")
    p = periodogram2d(img, n)
    k = n // scale
    lo, hi = NEIGHBOURS
    d = np.abs(np.arange(-hi, hi + 1))
    ring = np.maximum(d[:, None], d[None, :]) >= lo
    ratios = []
    for fy, fx in ((0, k), (k, 0), (k, k)):
        box = _bins(p, fy + np.arange(-hi, hi + 1), fx + np.arange(-hi, hi + 1), n)
        ratios.append(float(box[hi, hi] / max(float(np.median(box[ring])), 1e-30)))
    return max(ratios)


def grid_peaks(img: np.ndarray, scale: int) -> dict[str, Any]:
    """Per band, and overall: the largest of the bands."""
    per = [grid_peak(b, scale) for b in img]
    return {"per_band": per, "overall": max(per)}


def clipped_share(sr: np.ndarray, lr: np.ndarray) -> list[float]:
    """Per band: percent of output pixels <= 0 minus percent of input pixels <= 0."""
    return [float(100.0 * ((s <= 0).mean() - (x <= 0).mean())) for s, x in zip(sr, lr, strict=True)]


def mean_shift(sr: np.ndarray, lr: np.ndarray) -> list[float]:
    """Per band: 100 * (mean(SR) - mean(LR)) / mean(LR)."""
    return [float(100.0 * (s.mean(dtype=np.float64) - x.mean(dtype=np.float64)) / max(abs(x.mean(dtype=np.float64)), 1e-9))
            for s, x in zip(sr, lr, strict=True)]


def outside_local_range(sr: np.ndarray, lr: np.ndarray, scale: int, tol: float = 0.02) -> list[float]:
    """Per band: percent of output pixels outside [min - t, max + t] of their 3 x 3 LR neighbourhood,
    ``t = tol * (p99 - p01)`` of the input band."""
    out = []
    for s, x in zip(sr, lr, strict=True):
        p01, p99 = np.percentile(x, [1, 99])
        t = tol * max(p99 - p01, 1e-9)
        lo = np.repeat(np.repeat(minimum_filter(x, 3, mode="nearest"), scale, 0), scale, 1) - t
        hi = np.repeat(np.repeat(maximum_filter(x, 3, mode="nearest"), scale, 0), scale, 1) + t
        out.append(float(100.0 * ((s < lo) | (s > hi)).mean()))
    return out


def spectral_angle(a: np.ndarray, b: np.ndarray) -> float:
    """Mean angle (degrees) between the band vectors of two (C, H, W) images."""
    x, y = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
    total, count, step = 0.0, 0, 1 << 20
    for i in range(0, x.shape[1], step):  # in slices: float64 copies of a whole 72 Mpx scene would not fit
        xs, ys = x[:, i:i + step].astype(np.float64), y[:, i:i + step].astype(np.float64)
        cos = (xs * ys).sum(0) / np.maximum(np.sqrt((xs * xs).sum(0) * (ys * ys).sum(0)), 1e-12)
        total += float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))).sum())
        count += xs.shape[1]
    return total / max(count, 1)


def real_stats(lr: np.ndarray, out: np.ndarray, bicubic: np.ndarray, scale: int) -> dict[str, Any]:
    """Every statistic of the module doc for one output ``out`` (model, or bicubic itself)."""
    clip = clipped_share(out, lr)
    shift = mean_shift(np.maximum(out, 0.0), lr)  # what a user gets: values below 0 written as 0
    outside = outside_local_range(out, lr, scale)
    return {"grid_peak": grid_peaks(out, scale), "clipped_share_points": clip, "clipped_share_max": max(clip),
            "mean_shift_percent": shift, "mean_shift_max_abs": max(abs(v) for v in shift),
            "outside_local_range_percent": outside, "outside_local_range_mean": float(np.mean(outside)),
            "spectral_angle_to_bicubic_deg": 0.0 if out is bicubic else spectral_angle(out, bicubic)}
