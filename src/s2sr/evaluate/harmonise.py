"""Remove an SR image's systematic errors the way opensr-test 1.3.3 does before scoring it.

opensr-test builds ``SR_harm`` from SR and HR in two steps (``Config`` defaults
``harm_apply_spectral`` and ``harm_apply_spatial``):

1. **Histogram matching** per band (scikit-image ``match_histograms`` semantics): each
   distinct SR value is mapped to the HR value at the same cumulative frequency, by linear
   interpolation between the HR's distinct values (:func:`match_histograms`).
2. **Phase-correlation alignment** (satalign ``PCC`` with its defaults: the band mean as
   feature, scikit-image ``phase_cross_correlation`` with phase normalisation and
   1/50-pixel refinement by a matrix DFT, translation norm above 5 px rejected), then a
   bilinear shift with replicated edges (OpenCV ``warpAffine``): :func:`phase_shift`,
   :func:`translate`, :func:`align`.

Our own numpy/scipy implementation (no scikit-image, satalign or OpenCV); the arithmetic
keeps the input precision (float32 in, complex64 FFTs) as those libraries do. OpenCV 5
interpolates at exact coordinates, OpenCV 4 at 1/32 pixel: ``steps=32`` mirrors the latter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import fft

UPSAMPLE = 50  # satalign PCC upsample_factor
MAX_SHIFT = 5.0  # opensr-test Config.spatial_threshold_distance


def match_histograms(src: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Per band (axis 0), map ``src`` values onto ``ref``'s distribution; keeps ``src``'s float dtype."""
    if src.shape[0] != ref.shape[0]:
        raise ValueError(f"band counts differ: {src.shape[0]} vs {ref.shape[0]}")
    out = np.empty(src.shape, dtype=src.dtype if src.dtype.kind == "f" else np.float64)
    for b in range(src.shape[0]):
        s, r = src[b].ravel(), ref[b].ravel()
        s_val, s_idx, s_cnt = np.unique(s, return_inverse=True, return_counts=True)
        r_val, r_cnt = np.unique(r, return_counts=True)
        s_cdf = np.cumsum(s_cnt) / s.size
        r_cdf = np.cumsum(r_cnt) / r.size
        out[b] = np.interp(s_cdf, r_cdf, r_val)[s_idx].reshape(src.shape[1:])
    return out


def _peak(cc: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(np.abs(cc))), cc.shape))


def phase_shift(ref: np.ndarray, moving: np.ndarray, upsample: int = UPSAMPLE) -> np.ndarray:
    """(row, col) shift that registers 2-D ``moving`` onto ``ref``, to 1/``upsample`` pixel.

    Phase correlation: the normalised cross-power spectrum's inverse FFT peaks at the integer
    shift; a 1.5-pixel neighbourhood around it is then sampled every 1/``upsample`` pixel by
    a matrix DFT (Guizar-Sicairos et al., 2008). Raises ValueError on non-finite input.
    """
    if ref.shape != moving.shape or ref.ndim != 2:
        raise ValueError(f"need two 2-D arrays of one shape, got {ref.shape} and {moving.shape}")
    spec = fft.fftn(ref) * fft.fftn(moving).conj()
    real = spec.real.dtype
    spec /= np.maximum(np.abs(spec), 100 * np.finfo(real).eps)
    coarse = np.array(_peak(fft.ifftn(spec)), dtype=real)
    n = np.array(ref.shape)
    wrap = coarse > np.trunc(n / 2)
    coarse[wrap] -= n[wrap]
    up = real.type(upsample)
    shift = np.round(coarse * up) / up
    size = int(np.ceil(upsample * 1.5))
    centre = np.trunc(size / 2.0)
    # positions (pixels) sampled around the coarse peak on each axis
    pos = [shift[a] + (np.arange(size) - centre) / upsample for a in range(2)]
    e_row = np.exp(2j * np.pi * np.outer(pos[0], fft.fftfreq(ref.shape[0]))).astype(spec.dtype)
    e_col = np.exp(2j * np.pi * np.outer(pos[1], fft.fftfreq(ref.shape[1]))).astype(spec.dtype)
    fine = e_row @ spec @ e_col.T
    if not np.all(np.isfinite(fine)):
        raise ValueError("non-finite values in the images to align")
    shift = shift + (np.array(_peak(fine), dtype=real) - centre) / up
    shift[n == 1] = 0
    return shift


def _axis_weights(n: int, t: float, steps: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices (i0, i1) and weight of i1 for output positions 0..n-1 shifted by ``t``."""
    x = np.arange(n, dtype=np.float64) - t
    if steps is not None:  # fixed-point coordinates, as OpenCV 4's INTER_LINEAR
        q = np.floor(x * steps + 0.5).astype(np.int64)
        i0, a = q // steps, (q % steps) / steps
    else:
        i0 = np.floor(x).astype(np.int64)
        a = x - i0
    return np.clip(i0, 0, n - 1), np.clip(i0 + 1, 0, n - 1), a.astype(np.float32)


def translate(img: np.ndarray, dy: float, dx: float, steps: int | None = None) -> np.ndarray:
    """Shift (C, H, W) ``img`` by (dy, dx) pixels: out(y, x) = img(y - dy, x - dx), bilinear, edges replicated."""
    x = np.asarray(img, np.float32)
    r0, r1, ay = _axis_weights(x.shape[-2], float(dy), steps)
    c0, c1, ax = _axis_weights(x.shape[-1], float(dx), steps)
    cols = x[..., c0] * (1 - ax) + x[..., c1] * ax
    out = cols[..., r0, :] * (1 - ay)[:, None] + cols[..., r1, :] * ay[:, None]
    return out.astype(img.dtype, copy=False)


@dataclass(frozen=True)
class Alignment:
    """Result of :func:`align`: the moved image, the (row, col) shift, and whether it was accepted."""

    image: np.ndarray
    shift: tuple[float, float]
    ok: bool


def align(moving: np.ndarray, ref: np.ndarray, max_shift: float = MAX_SHIFT, steps: int | None = None) -> Alignment:
    """Register (C, H, W) ``moving`` onto ``ref`` by phase correlation of their band means.

    A shift longer than ``max_shift`` pixels, or one that cannot be computed, is rejected
    (``ok`` False) and the image is returned unmoved, as satalign does.
    """
    try:
        s = phase_shift(ref.mean(axis=0), moving.mean(axis=0))
    except ValueError:
        return Alignment(moving, (0.0, 0.0), False)
    if float(np.hypot(s[0], s[1])) > max_shift:
        return Alignment(moving, (float(s[0]), float(s[1])), False)
    return Alignment(translate(moving, s[0], s[1], steps), (float(s[0]), float(s[1])), True)


def harmonise(sr: np.ndarray, hr: np.ndarray, max_shift: float = MAX_SHIFT, steps: int | None = None) -> Alignment:
    """opensr-test's ``SR_harm``: SR histogram-matched to HR per band, then aligned to HR."""
    return align(match_histograms(sr, hr), hr, max_shift, steps)
