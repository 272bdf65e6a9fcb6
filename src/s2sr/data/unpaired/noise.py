"""The noise of a sensor, measured from its own images: a Laplacian residual in flat areas.

Immerkaer's operator ``[[1,-2,1],[-2,4,-2],[1,-2,1]]`` removes constants and ramps; for white
noise of std ``s`` its output has std ``6 s``. Scene texture only adds to it, so its RMS is taken
over 8 x 8 blocks and, per band and signal bin, the 2 % quantile of the block RMS (the flattest
blocks) is divided by the same quantile for pure white noise (a seeded simulation): an unbiased
estimate where at least 2 % of the blocks of a bin are flat, an upper bound elsewhere. Then
``std = a + b * signal`` is fitted over the bins (the synthetic pair's noise is 6 + 0.4 % of
the signal; a photon-limited sensor's grows with it). Noise that the ground segment has
resampled (L1C) is correlated between pixels and reads lower than its per-pixel std.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.ndimage import convolve, minimum_filter

_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)
BLOCK = 8  # px a side of the blocks whose residual RMS is measured
QUANTILE = 0.02  # of the block RMS per signal bin: the flattest blocks


@dataclass(frozen=True)
class NoiseFit:
    """Per band: ``std = a + b * signal`` (input units), and the std at the band's median signal."""

    a: tuple[float, ...]
    b: tuple[float, ...]
    median_signal: tuple[float, ...]
    pixels: int

    def std_at(self, band: int, signal: np.ndarray | float) -> np.ndarray | float:
        return np.maximum(self.a[band] + self.b[band] * np.abs(signal), 0.0)

    @property
    def std_median(self) -> tuple[float, ...]:
        return tuple(float(self.std_at(i, s)) for i, s in enumerate(self.median_signal))

    def to_dict(self) -> dict[str, object]:
        return {"model": "std = a + b * signal", "a": [round(v, 3) for v in self.a],
                "b": [round(v, 6) for v in self.b], "median_signal": [round(v, 1) for v in self.median_signal],
                "std_at_median_signal": [round(v, 3) for v in self.std_median], "pixels": self.pixels,
                "method": "Immerkaer Laplacian residual, calibrated 2 % quantile of 8 x 8 block RMS per signal bin"}


def residual(img: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(residual / 6, mask of pixels whose 3 x 3 support is valid)."""
    r = convolve(img.astype(np.float64), _KERNEL, mode="mirror") / 6.0
    ok = minimum_filter(valid.astype(np.uint8), size=3) > 0
    return r, ok


def block_stats(img: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean signal, residual RMS) of every fully valid ``BLOCK`` x ``BLOCK`` block of one band."""
    r, ok = residual(img, valid)
    b = BLOCK
    h, w = (img.shape[0] // b) * b, (img.shape[1] // b) * b
    def blocks(x: np.ndarray) -> np.ndarray:
        return x[:h, :w].reshape(h // b, b, w // b, b).swapaxes(1, 2).reshape(-1, b * b)
    okb = blocks(ok).all(axis=1)
    sig = blocks(img.astype(np.float64)).mean(axis=1)[okb]
    rms = np.sqrt((blocks(r) ** 2).mean(axis=1))[okb]
    return sig, rms


@lru_cache(maxsize=8)
def _calibration(q: float) -> float:
    """The ``q`` quantile of the block RMS of unit white noise (seeded simulation)."""
    noise = np.random.default_rng(12345).standard_normal((512, 512))
    _, rms = block_stats(noise, np.ones(noise.shape, bool))
    return float(np.quantile(rms, q))


def fit_noise(images: Sequence[tuple[np.ndarray, np.ndarray]], bins: int = 6,
              reference: Sequence[tuple[np.ndarray, np.ndarray]] | None = None) -> NoiseFit:
    """Per-band noise model from (bands, h, w) images with (h, w) valid masks.

    ``reference``: noise-free images of similar content in the same units (the HR degraded by the
    fitted sensor model and mapped to LR units): their block RMS, per signal bin, is the share of
    scene texture, removed in quadrature."""
    nb = images[0][0].shape[0]
    blocks = [_pooled(images, band) for band in range(nb)]
    ref = [_pooled(reference, band) for band in range(nb)] if reference else None
    return noise_from_blocks(blocks, ref, bins)


def noise_from_blocks(blocks: Sequence[tuple[np.ndarray, np.ndarray]],
                      reference: Sequence[tuple[np.ndarray, np.ndarray]] | None = None, bins: int = 6) -> NoiseFit:
    """:func:`fit_noise` from per-band (signal, RMS) block statistics (:func:`block_stats`, pooled)."""
    a, b, med, total = [], [], [], 0
    for band, (sig, rms) in enumerate(blocks):
        total += sig.size
        ab = _fit_band(sig, rms, bins, reference[band] if reference else None)
        a.append(ab[0])
        b.append(ab[1])
        med.append(float(np.median(sig)) if sig.size else 0.0)
    return NoiseFit(tuple(a), tuple(b), tuple(med), total)


def _pooled(images: Sequence[tuple[np.ndarray, np.ndarray]], band: int) -> tuple[np.ndarray, np.ndarray]:
    stats = [block_stats(d[band], v) for d, v in images]
    return np.concatenate([s for s, _ in stats]), np.concatenate([r for _, r in stats])


def _fit_band(sig: np.ndarray, rms: np.ndarray, bins: int,
              ref: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[float, float]:
    """``a, b`` of std = a + b * signal from the calibrated low quantile of the block RMS in
    signal-quantile bins (b >= 0)."""
    c = _calibration(QUANTILE)
    if sig.size < 100:
        return (float(np.quantile(rms, QUANTILE)) / c if rms.size else 0.0), 0.0
    edges = np.quantile(sig, np.linspace(0.0, 1.0, bins + 1))
    xs, ys, ws = [], [], []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        sel = (sig >= lo) & (sig <= hi)
        if sel.sum() < 30:
            continue
        y = float(np.quantile(rms[sel], QUANTILE)) / c
        if ref is not None:
            rsel = (ref[0] >= lo) & (ref[0] <= hi)
            if rsel.sum() >= 30:
                y = float(np.sqrt(max(y * y - (float(np.quantile(ref[1][rsel], QUANTILE)) / c) ** 2, 0.0)))
        xs.append(float(np.median(sig[sel])))
        ys.append(y)
        ws.append(float(sel.sum()))
    if len(xs) < 2:
        return float(np.quantile(rms, QUANTILE)) / c, 0.0
    slope, icpt = np.polyfit(xs, ys, 1, w=np.sqrt(ws))
    if slope < 0:
        return float(np.average(ys, weights=ws)), 0.0
    return float(icpt), float(slope)
