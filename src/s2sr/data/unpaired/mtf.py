"""The blur of a sensor, measured from its own images: slanted-edge fits against the sensor model.

An LR pixel of :class:`s2sr.sensor.SensorModel` is the area mean over the pixel of the scene
blurred by a Gaussian of std ``sigma`` (LR px); its MTF at the LR Nyquist frequency is
``exp(-pi^2 sigma^2 / 2)``. Straight step edges (field borders, roads, roof lines) are the
one kind of scene content whose blurred image is known up to four numbers, so each window
around a strong gradient maximum is fitted by

    I(x, y) = a + b * mean over the pixel of Phi((cos t * x + sin t * y - c) / sigma)

(``Phi`` the normal CDF; the pixel mean by 3 x 3 Gauss-Legendre points) and kept when a single
straight step explains it (small residual relative to the step, centred, contrast well above
the noise). The estimate is the median of the kept sigmas. Natural edges are never sharper
than a step, so on real scenes it is an upper bound of the blur (a lower bound of the MTF);
``sigma_q25`` (the sharpest quarter) is recorded beside it.
``fit_mtf`` checks that enough edges were kept and says which images lacked them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter, minimum_filter, sobel
from scipy.optimize import least_squares
from scipy.special import ndtr

RADIUS = 4  # window half-size, LR px (9 x 9 windows)
# 3-point Gauss-Legendre nodes and weights on [-1/2, 1/2]: the pixel mean of a smooth function
_SUB = np.array([-math.sqrt(0.15), 0.0, math.sqrt(0.15)])
_W = np.array([5.0, 8.0, 5.0]) / 18.0
_W2 = _W[:, None] * _W[None, :]
MIN_EDGES = 30


@dataclass(frozen=True)
class EdgeFitSettings:
    """Which windows are fitted and which fits are kept."""

    candidates: int = 300  # strongest gradient maxima per band image
    max_fits: int = 4000  # windows fitted in all (spread over the images and bands)
    max_rel_residual: float = 0.08  # RMS residual / step height
    min_contrast_noise: float = 20.0  # step height / noise std
    quantile: float = 0.5  # of the kept sigmas (0.5: the median)
    min_edges: int = MIN_EDGES


@dataclass(frozen=True)
class MTFFit:
    """The fitted blur: Gaussian std (LR px) and its MTF at the LR Nyquist frequency."""

    mtf_nyquist: float
    sigma_lr: float
    edges: int  # edges kept
    candidates: int  # windows fitted
    sigma_q25: float  # 25 % quantile of the kept sigmas (the sharpest edges; diagnostic)
    per_image_edges: tuple[int, ...]
    quantile: float

    def to_dict(self) -> dict[str, object]:
        return {"mtf_nyquist": round(self.mtf_nyquist, 4), "sigma_lr_px": round(self.sigma_lr, 4),
                "edges": self.edges, "candidates": self.candidates, "sigma_q25_lr_px": round(self.sigma_q25, 4),
                "mtf_nyquist_q25": round(mtf_of_sigma(self.sigma_q25), 4),
                "per_image_edges": list(self.per_image_edges), "quantile": self.quantile,
                "method": "slanted-edge fits of a Gaussian-blurred, pixel-integrated step; median sigma"}


def mtf_of_sigma(sigma_lr: float) -> float:
    """MTF at the LR Nyquist frequency of a Gaussian of std ``sigma_lr`` LR px."""
    return math.exp(-(math.pi ** 2) * sigma_lr ** 2 / 2.0)


def edge_model(params: np.ndarray, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    """Pixel values of a straight step edge (see the module doc); ``params`` = a, b, t, c, log sigma."""
    a, b, t, c, log_s = params
    s = math.exp(log_s)
    ct, st = math.cos(t), math.sin(t)
    d = (ct * (xx[..., None, None] + _SUB[:, None]) + st * (yy[..., None, None] + _SUB[None, :]) - c) / s
    return a + b * (ndtr(d) * _W2).sum(axis=(-2, -1))


def find_candidates(img: np.ndarray, valid: np.ndarray, n: int) -> list[tuple[int, int]]:
    """(row, col) of the ``n`` strongest local gradient maxima whose window is fully valid."""
    x = np.where(valid, img, np.nanmean(img[valid]) if valid.any() else 0.0).astype(np.float64)
    mag = np.hypot(sobel(x, axis=0), sobel(x, axis=1))
    w = 2 * RADIUS + 1
    ok = minimum_filter(valid.astype(np.uint8), size=w + 2) > 0
    ok[:RADIUS + 1, :] = ok[-RADIUS - 1:, :] = False
    ok[:, :RADIUS + 1] = ok[:, -RADIUS - 1:] = False
    peak = (mag == maximum_filter(mag, size=w)) & ok & (mag > 0)
    rows, cols = np.nonzero(peak)
    order = np.argsort(mag[rows, cols])[::-1][:n]
    return [(int(rows[i]), int(cols[i])) for i in order]


def fit_edge(win: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Fit :func:`edge_model` to a (2R+1)^2 window; (params, RMS residual) or None."""
    r = RADIUS
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1].astype(np.float64)
    gy, gx = sobel(win, axis=0), sobel(win, axis=1)
    sx, sy = float(gx.sum()), float(gy.sum())
    if sx == 0 and sy == 0:
        return None
    t0 = math.atan2(sy, sx)
    lo, hi = np.percentile(win, [10, 90])
    if hi <= lo:
        return None
    p0 = np.array([lo, hi - lo, t0, 0.0, math.log(0.6)])
    try:
        res = least_squares(lambda p: (edge_model(p, xx, yy) - win).ravel(), p0, method="lm", max_nfev=200)
    except (ValueError, np.linalg.LinAlgError):
        return None
    if not res.success:
        return None
    return res.x, float(np.sqrt(np.mean(res.fun ** 2)))


def edge_sigmas(img: np.ndarray, valid: np.ndarray, noise: float, st: EdgeFitSettings,
                n: int | None = None) -> tuple[list[float], int]:
    """Sigmas (LR px) of the straight step edges of one band image (its ``n`` strongest gradient
    maxima, default ``st.candidates``), and how many windows were fitted."""
    r = RADIUS
    cands = find_candidates(img, valid, n or st.candidates)
    out = []
    for row, col in cands:
        win = img[row - r:row + r + 1, col - r:col + r + 1].astype(np.float64)
        fit = fit_edge(win)
        if fit is None:
            continue
        (a, b, t, c, log_s), rms = fit
        sigma, step = math.exp(log_s), abs(b)
        if not (0.1 < sigma < 2.0 and abs(c) < 1.5 and step > st.min_contrast_noise * max(noise, 1e-6)):
            continue
        if rms > st.max_rel_residual * step:
            continue
        out.append(sigma)
    return out, len(cands)


def fit_mtf(images: Sequence[tuple[np.ndarray, np.ndarray, Sequence[float]]],
            settings: EdgeFitSettings | None = None) -> tuple[MTFFit | None, list[int]]:
    """Fit one Gaussian MTF to (bands, h, w) images with (h, w) valid masks and per-band noise stds.

    Returns the fit (None when fewer than ``min_edges`` edges were kept) and the edges per image."""
    st = settings or EdgeFitSettings()
    sigmas: list[float] = []
    per_image, fitted = [], 0
    bands = sum(len(d) for d, _, _ in images)
    each = max(10, min(st.candidates, st.max_fits // max(bands, 1)))
    for data, valid, noise in images:
        n_img = 0
        for band, nz in zip(data, noise, strict=True):
            s, n = edge_sigmas(band, valid, nz, st, each)
            sigmas += s
            n_img += len(s)
            fitted += n
        per_image.append(n_img)
    return mtf_from_sigmas(sigmas, fitted, per_image, st), per_image


def mtf_from_sigmas(sigmas: Sequence[float], fitted: int, per_image: Sequence[int],
                    st: EdgeFitSettings) -> MTFFit | None:
    """The fit from the kept edge sigmas (None when fewer than ``st.min_edges``)."""
    if len(sigmas) < st.min_edges:
        return None
    sig = float(np.quantile(sigmas, st.quantile))
    return MTFFit(mtf_of_sigma(sig), sig, len(sigmas), fitted, float(np.quantile(sigmas, 0.25)), tuple(per_image),
                  st.quantile)

