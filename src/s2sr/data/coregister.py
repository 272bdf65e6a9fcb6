"""Sub-pixel co-registration of LR against the sensor-degraded HR, by phase correlation.

On a few large clean windows the HR is resampled to the fine grid, degraded by the
sensor model to the LR grid, and phase-correlated with the LR (Hann-tapered,
whitened cross-power spectrum summed over bands, peak refined by an upsampled
matrix DFT). The median over windows is the estimate.

Convention (same as ``truth.json`` of ``s2sr synth``): the shift (dx, dy) is the
offset of the LR content relative to the HR in LR pixels, x east, y south:
``LR(x) ~ degrade(HR)(x - d)``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from rasterio.windows import Window

from s2sr.data.config import PrepareConfig
from s2sr.data.pairs import HRReader, Pair
from s2sr.sensor import SensorModel

log = logging.getLogger(__name__)


@dataclass
class WindowSample:
    """One clean LR window, with the LR data (bands, h, w) kept for harmonisation."""

    window: Window
    lr: np.ndarray


@dataclass
class ShiftEstimate:
    dx: float
    dy: float
    per_window: list[tuple[float, float]] = field(default_factory=list)

    @property
    def spread(self) -> float:
        """Median absolute deviation of the window estimates (LR px), 0 with < 2 windows."""
        if len(self.per_window) < 2:
            return 0.0
        a = np.asarray(self.per_window)
        return float(np.median(np.hypot(a[:, 0] - self.dx, a[:, 1] - self.dy)))


def phase_correlation(a: np.ndarray, b: np.ndarray, upsample: int = 100, whiten: bool = False) -> tuple[float, float]:
    """Shift (dx, dy) in pixels such that ``a(x) ~ b(x - d)``; a, b are (C, H, W) or (H, W)."""
    a = np.atleast_3d(a.T).T if a.ndim == 2 else a
    b = np.atleast_3d(b.T).T if b.ndim == 2 else b
    _, h, w = a.shape
    taper = np.outer(np.hanning(h), np.hanning(w))
    cross = np.zeros((h, w), np.complex128)
    for x, y in zip(a.astype(np.float64), b.astype(np.float64), strict=True):
        fa = np.fft.fft2((x - x.mean()) * taper)
        fb = np.fft.fft2((y - y.mean()) * taper)
        r = fa * np.conj(fb)
        cross += r / (np.sqrt(np.abs(r)) + 1e-30) if whiten else r
    corr = np.fft.ifft2(cross).real
    py, px = np.unravel_index(int(np.argmax(corr)), corr.shape)
    py = py - h if py > h // 2 else py
    px = px - w if px > w // 2 else px
    dy, dx = float(py), float(px)
    for step, half in ((1.0 / 8, 1.0), (1.0 / upsample, 1.0 / 8)):
        dy, dx = _refine(cross, dy, dx, step, half)
    return dx, dy


def _refine(cross: np.ndarray, dy: float, dx: float, step: float, half: float) -> tuple[float, float]:
    """Cross-correlation on a lattice of ``step`` px within +-``half`` of (dy, dx) (matrix DFT)."""
    h, w = cross.shape
    off = np.arange(-half, half + step / 2, step)
    ys, xs = dy + off, dx + off
    ky = np.exp(2j * np.pi * np.outer(ys, np.fft.fftfreq(h)))
    kx = np.exp(2j * np.pi * np.outer(np.fft.fftfreq(w), xs))
    cc = (ky @ cross @ kx).real
    iy, ix = np.unravel_index(int(np.argmax(cc)), cc.shape)
    return float(ys[iy]), float(xs[ix])


class LRWindows(Protocol):
    """What co-registration reads LR windows with (a file's, or a Wald pair's made on the fly)."""

    def read(self, window: Window) -> tuple[np.ndarray, np.ndarray]: ...


def pick_windows(pair: Pair, cfg: PrepareConfig, lr: LRWindows, margin: int) -> list[WindowSample]:
    """Up to ``cfg.coreg_windows`` fully valid, cloud-free, textured LR windows, spread over the overlap."""
    ow = pair.window
    size = min(cfg.coreg_window, int(ow.width) - 2 * margin, int(ow.height) - 2 * margin)
    while size >= 16:
        found = []
        for r in _spread(int(ow.row_off) + margin, int(ow.height) - 2 * margin, size):
            for c in _spread(int(ow.col_off) + margin, int(ow.width) - 2 * margin, size):
                win = Window(c, r, size, size)
                data, ok = lr.read(win)
                if ok.all() and not (data.mean(axis=0) > cfg.bright_value).any():
                    found.append((float(data.std(axis=(1, 2)).mean()), WindowSample(win, data)))
        if found:
            found.sort(key=lambda t: -t[0])
            return [s for _, s in found[: cfg.coreg_windows]]
        size //= 2
    return []


def _spread(start: int, length: int, size: int, n: int = 3) -> list[int]:
    if length <= size:
        return [start]
    return sorted({start + round(i * (length - size) / (n - 1)) for i in range(n)})


def degraded_hr(hr: HRReader, win: Window, sensor: SensorModel, margin: int) -> np.ndarray | None:
    """HR under ``win`` degraded to the LR grid (margin read and cropped), None if it has gaps."""
    data, ok = hr.read(win, margin)
    if not ok.all():
        return None
    d = np.stack([sensor.degrade(band) for band in data])  # band by band: less float64 memory
    return d[:, margin:-margin, margin:-margin] if margin else d


def degrade_windows(samples: list[WindowSample], hr: HRReader, sensor: SensorModel, margin: int) -> list[np.ndarray | None]:
    """The degraded HR under each sample window (None where the HR has gaps)."""
    return [degraded_hr(hr, s.window, sensor, margin) for s in samples]


def estimate_shift(samples: list[WindowSample], degraded: list[np.ndarray | None]) -> ShiftEstimate:
    """Median phase-correlation shift of LR relative to the degraded HR over the windows."""
    per = [phase_correlation(s.lr, d) for s, d in zip(samples, degraded, strict=True) if d is not None]
    if not per:
        return ShiftEstimate(0.0, 0.0, [])
    a = np.asarray(per)
    return ShiftEstimate(float(np.median(a[:, 0])), float(np.median(a[:, 1])), [(float(p[0]), float(p[1])) for p in per])


def margin_lr(sensor: SensorModel) -> int:
    """LR pixels of context the sensor blur needs around a window."""
    return int(math.ceil(sensor.radius_hr / sensor.scale)) + 1
