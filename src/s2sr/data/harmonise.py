"""Radiometric harmonisation: per-band robust linear fit LR ~ gain * degrade(HR) + offset.

The fit uses the co-registration windows, with the HR resampled at the estimated
shift (its first estimate; the residual is a few hundredths of a pixel) (so edges line up), valid and cloud-free LR pixels only. It is robust:
least squares, then refits that drop residuals beyond 3 robust sigmas (MAD).
Applying it maps HR patches to the LR radiometry: ``hr' = gain * hr + offset``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from s2sr.data.coregister import WindowSample

log = logging.getLogger(__name__)


@dataclass
class Harmonisation:
    gains: list[float]
    offsets: list[float]
    pixels: int

    def apply(self, hr: np.ndarray) -> np.ndarray:
        g = np.asarray(self.gains, np.float32)[:, None, None]
        o = np.asarray(self.offsets, np.float32)[:, None, None]
        return hr * g + o

    @classmethod
    def identity(cls, bands: int) -> Harmonisation:
        return cls([1.0] * bands, [0.0] * bands, 0)


def robust_linear_fit(x: np.ndarray, y: np.ndarray, iters: int = 10) -> tuple[float, float]:
    """(gain, offset) of y ~ gain * x + offset.

    Starts from a Theil-Sen estimate on a fixed subsample, then refits least squares on
    the points within 3 robust sigmas (MAD) of the current line until it settles.
    """
    x = np.asarray(x, np.float64).ravel()
    y = np.asarray(y, np.float64).ravel()
    if x.size < 3 or np.ptp(x) == 0:
        return 1.0, 0.0
    gain, offset = _theil_sen(x, y)
    keep = np.zeros(x.size, bool)
    for _ in range(iters):
        res = y - (gain * x + offset)
        mad = float(np.median(np.abs(res - np.median(res)))) * 1.4826
        new = np.abs(res - np.median(res)) <= 3 * max(mad, 1e-9)
        if np.array_equal(new, keep) or new.sum() < 3 or np.ptp(x[new]) == 0:
            break
        keep = new
        gain, offset = (float(v) for v in np.polyfit(x[keep], y[keep], 1))
    return float(gain), float(offset)


def _theil_sen(x: np.ndarray, y: np.ndarray, n: int = 400) -> tuple[float, float]:
    idx = np.random.default_rng(0).choice(x.size, size=min(n, x.size), replace=False)
    xs, ys = x[idx], y[idx]
    i, j = np.triu_indices(xs.size, 1)
    dx = xs[j] - xs[i]
    ok = dx != 0
    gain = float(np.median((ys[j] - ys[i])[ok] / dx[ok]))
    return gain, float(np.median(y - gain * x))


def estimate_harmonisation(
    samples: list[WindowSample], degraded: list[np.ndarray | None], bright: float
) -> Harmonisation | None:
    """Fit per band over the windows; ``degraded`` must come from the co-registered HR."""
    xs, ys = [], []
    for s, d in zip(samples, degraded, strict=True):
        if d is None:
            continue
        ok = s.lr.mean(axis=0) <= bright
        xs.append(d[:, ok])
        ys.append(s.lr[:, ok])
    if not xs:
        return None
    x = np.concatenate(xs, axis=1)
    y = np.concatenate(ys, axis=1)
    fits = [robust_linear_fit(x[b], y[b]) for b in range(x.shape[0])]
    return Harmonisation([f[0] for f in fits], [f[1] for f in fits], int(x.shape[1]))
