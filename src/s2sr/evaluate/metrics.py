"""Image-quality metrics as mergeable sufficient statistics.

Every metric is computed from per-tile sums (:class:`Stats`) that add up exactly
across tiles, so a scene is scored window by window with bounded memory and the
result equals a whole-image computation (SSIM and high-pass filters see a tile
margin; see docs/evaluate.md). :func:`summarise` turns sums into metric values.
The one-shot functions :func:`psnr`, :func:`ssim`, :func:`sam` and :func:`ergas`
run the same code on whole arrays.

Arrays are (bands, H, W) in input units (e.g. reflectance x 10000).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from scipy.ndimage import correlate1d, gaussian_filter

from s2sr.sensor import SensorModel

SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03

# name -> "max" (higher is better), "min" (lower is better), "one" (closest to 1 is best)
DIRECTION: dict[str, str] = {
    "psnr": "max",
    "ssim": "max",
    "sam": "min",
    "ergas": "min",
    "lr_psnr": "max",
    "lr_sam": "min",
    "hf_corr": "max",
    "grad_ratio": "one",
    "improvement": "max",
    "hallucination": "min",
    "omission": "min",
}


def _empty() -> np.ndarray:
    return np.zeros(0, np.float64)


@dataclass
class Stats:
    """Sufficient statistics of one method against the reference over some pixels."""

    bands: int
    n: float = 0.0
    sse: np.ndarray = field(default_factory=_empty)
    ref_sum: np.ndarray = field(default_factory=_empty)
    ssim_sum: np.ndarray = field(default_factory=_empty)
    sam_sum: float = 0.0
    sam_n: float = 0.0
    hp_moments: np.ndarray = field(default_factory=_empty)  # (5, C): sx, sy, sxx, syy, sxy
    grad_pred: np.ndarray = field(default_factory=_empty)
    grad_ref: np.ndarray = field(default_factory=_empty)
    lr_n: float = 0.0
    lr_sse: np.ndarray = field(default_factory=_empty)
    lr_sam_sum: float = 0.0
    ioh: np.ndarray = field(default_factory=_empty)  # improvement, omission, hallucination counts

    def __post_init__(self) -> None:
        c = self.bands
        for name, shape in (("sse", c), ("ref_sum", c), ("ssim_sum", c), ("grad_pred", c),
                            ("grad_ref", c), ("lr_sse", c), ("ioh", 3)):
            if getattr(self, name).size == 0:
                setattr(self, name, np.zeros(shape, np.float64))
        if self.hp_moments.size == 0:
            self.hp_moments = np.zeros((5, c), np.float64)

    def __add__(self, other: Stats) -> Stats:
        out = Stats(self.bands)
        for f in fields(self):
            if f.name != "bands":
                setattr(out, f.name, getattr(self, f.name) + getattr(other, f.name))
        return out


def _angles_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel spectral angle (degrees) between (C, N) arrays; 0 where a vector is zero."""
    dot = np.sum(a * b, axis=0)
    na = np.sqrt(np.sum(a * a, axis=0))
    nb = np.sqrt(np.sum(b * b, axis=0))
    den = na * nb
    cos = np.divide(dot, den, out=np.ones_like(dot), where=den > 0)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def ssim_map(pred: np.ndarray, ref: np.ndarray, data_range: np.ndarray) -> np.ndarray:
    """Per-band SSIM map (Wang et al. 2004, Gaussian window sigma 1.5), shape (C, H, W)."""
    x = pred.astype(np.float64)
    y = ref.astype(np.float64)
    L = np.asarray(data_range, np.float64).reshape(-1, 1, 1)
    c1, c2 = (SSIM_K1 * L) ** 2, (SSIM_K2 * L) ** 2
    g = (0, SSIM_SIGMA, SSIM_SIGMA)
    mx, my = gaussian_filter(x, g, mode="reflect"), gaussian_filter(y, g, mode="reflect")
    sxx = gaussian_filter(x * x, g, mode="reflect") - mx * mx
    syy = gaussian_filter(y * y, g, mode="reflect") - my * my
    sxy = gaussian_filter(x * y, g, mode="reflect") - mx * my
    return ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))


def grad_mag(x: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude per band of a (C, H, W) array (units per pixel; bands not mixed)."""
    x = x.astype(np.float64)
    d, sm = np.array([-1.0, 0.0, 1.0]), np.array([1.0, 2.0, 1.0])
    gx = correlate1d(correlate1d(x, d, axis=-1, mode="reflect"), sm, axis=-2, mode="reflect") / 8.0
    gy = correlate1d(correlate1d(x, d, axis=-2, mode="reflect"), sm, axis=-1, mode="reflect") / 8.0
    return np.hypot(gx, gy)


def highpass(x: np.ndarray, sensor: SensorModel) -> np.ndarray:
    """The detail the sensor removes: x - blur_MTF(x) on the fine grid."""
    return x.astype(np.float64) - sensor.blur(x).astype(np.float64)


def tile_stats(
    pred: np.ndarray,
    ref: np.ndarray,
    mask: np.ndarray,
    data_range: np.ndarray,
    *,
    sensor: SensorModel | None = None,
    lr: np.ndarray | None = None,
    lr_mask: np.ndarray | None = None,
    bicubic: np.ndarray | None = None,
    tol: float = 0.0,
) -> Stats:
    """Statistics of ``pred`` vs ``ref`` over ``mask`` (H, W) of a tile.

    Filters (SSIM, high-pass, gradients) run on the whole arrays, so pass a tile with
    a margin and a ``mask`` that is False on the margin. ``sensor`` enables the
    high-pass correlation and, with ``lr``/``lr_mask`` (the LR window matching the
    tile), LR-consistency. ``bicubic`` enables improvement/omission/hallucination with
    change tolerance ``tol`` (input units, mean absolute difference over bands).
    """
    c = pred.shape[0]
    st = Stats(c)
    m = mask.astype(bool)
    n = int(m.sum())
    if n == 0:
        return st
    p = pred.astype(np.float64)
    r = ref.astype(np.float64)
    st.n = float(n)
    st.sse = np.sum((p - r)[:, m] ** 2, axis=1)
    st.ref_sum = np.sum(r[:, m], axis=1)
    st.ssim_sum = np.sum(ssim_map(p, r, data_range)[:, m], axis=1)
    ang = _angles_deg(p[:, m], r[:, m])
    st.sam_sum, st.sam_n = float(ang.sum()), float(n)
    st.grad_pred = np.sum(grad_mag(p)[:, m], axis=1)
    st.grad_ref = np.sum(grad_mag(r)[:, m], axis=1)
    if sensor is not None:
        hx, hy = highpass(p, sensor)[:, m], highpass(r, sensor)[:, m]
        st.hp_moments = np.stack([hx.sum(1), hy.sum(1), (hx * hx).sum(1), (hy * hy).sum(1), (hx * hy).sum(1)])
        if lr is not None and lr_mask is not None:
            _lr_consistency(st, p, lr, lr_mask, sensor)
    if bicubic is not None:
        st.ioh = change_counts(p[:, m], r[:, m], bicubic.astype(np.float64)[:, m], tol)
    return st


def _lr_consistency(st: Stats, pred: np.ndarray, lr: np.ndarray, lr_mask: np.ndarray, sensor: SensorModel) -> None:
    deg = sensor.degrade(pred).astype(np.float64)
    lm = lr_mask.astype(bool)
    if deg.shape[1:] != lm.shape:
        raise ValueError(f"degraded tile {deg.shape} does not match the LR window {lm.shape}")
    lrv = lr.astype(np.float64)
    st.lr_n = float(lm.sum())
    st.lr_sse = np.sum((deg - lrv)[:, lm] ** 2, axis=1)
    st.lr_sam_sum = float(_angles_deg(deg[:, lm], lrv[:, lm]).sum())


def change_counts(pred: np.ndarray, ref: np.ndarray, bicubic: np.ndarray, tol: float) -> np.ndarray:
    """Counts of (improvement, omission, hallucination) pixels among (C, N) pixels.

    With d_ref = |bicubic - ref|, d_sr = |pred - ref|, d_lr = |pred - bicubic| (mean over
    bands): a pixel has structure when d_ref > tol or d_lr > tol. Of those, *omission*:
    d_lr <= tol (pred stays at bicubic where ref differs); *improvement*: d_lr > tol and
    d_sr < d_ref; *hallucination*: d_lr > tol and d_sr >= d_ref.
    """
    d_ref = np.mean(np.abs(bicubic - ref), axis=0)
    d_sr = np.mean(np.abs(pred - ref), axis=0)
    d_lr = np.mean(np.abs(pred - bicubic), axis=0)
    moved = d_lr > tol
    omission = (~moved) & (d_ref > tol)
    improvement = moved & (d_sr < d_ref)
    hallucination = moved & (d_sr >= d_ref)
    return np.array([improvement.sum(), omission.sum(), hallucination.sum()], np.float64)


def _psnr(mse: np.ndarray | float, peak: np.ndarray | float) -> np.ndarray:
    mse = np.asarray(mse, np.float64)
    peak = np.asarray(peak, np.float64)
    with np.errstate(divide="ignore"):
        return np.where(mse > 0, 10.0 * np.log10(peak**2 / np.maximum(mse, 1e-300)), np.inf)


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.divide(a, b, out=np.full(np.broadcast(a, b).shape, np.nan), where=b != 0)


def summarise(st: Stats, data_range: np.ndarray, scale: int) -> dict[str, Any]:
    """Metric values from statistics: ``{"overall": {...}, "per_band": {metric: [per band]}}``.

    PSNR uses the per-band peak ``data_range``; overall PSNR uses the mean MSE over
    bands and the mean peak. ERGAS uses the resolution ratio 1/scale.
    """
    L = np.asarray(data_range, np.float64)
    if st.n == 0:
        raise ValueError("no valid pixels to score")
    mse = st.sse / st.n
    mu = st.ref_sum / st.n
    rel = _safe_div(np.sqrt(mse), mu)
    sx, sy, sxx, syy, sxy = st.hp_moments / st.n
    cov = sxy - sx * sy
    hf = _safe_div(cov, np.sqrt(np.maximum(sxx - sx * sx, 0) * np.maximum(syy - sy * sy, 0)))
    per_band = {
        "psnr": _psnr(mse, L),
        "ssim": st.ssim_sum / st.n,
        "rmse": np.sqrt(mse),
        "hf_corr": hf,
        "grad_ratio": _safe_div(st.grad_pred, st.grad_ref),
    }
    overall: dict[str, float] = {
        "psnr": float(_psnr(mse.mean(), L.mean())),
        "ssim": float(per_band["ssim"].mean()),
        "sam": st.sam_sum / st.sam_n,
        "ergas": float(100.0 / scale * np.sqrt(np.mean(rel**2))),
        "hf_corr": float(np.nanmean(hf)) if np.any(np.isfinite(hf)) else math.nan,
        "grad_ratio": float(_safe_div(st.grad_pred.sum(), st.grad_ref.sum())),
    }
    if st.lr_n > 0:
        lr_mse = st.lr_sse / st.lr_n
        per_band["lr_psnr"] = _psnr(lr_mse, L)
        overall["lr_psnr"] = float(_psnr(lr_mse.mean(), L.mean()))
        overall["lr_sam"] = st.lr_sam_sum / st.lr_n
    n_struct = st.ioh.sum()
    for i, name in enumerate(("improvement", "omission", "hallucination")):
        overall[name] = float(st.ioh[i] / n_struct) if n_struct > 0 else math.nan
    overall["structured_fraction"] = float(n_struct / st.n)
    overall["pixels"] = float(st.n)
    return {"overall": overall, "per_band": {k: [float(v) for v in vals] for k, vals in per_band.items()}}


# ---- one-shot metrics on whole arrays (same code paths) ----------------------------------
def _as3(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    return x[None] if x.ndim == 2 else x


def _whole(pred: np.ndarray, ref: np.ndarray, data_range: float | np.ndarray | None, scale: int = 4) -> dict:
    p, r = _as3(pred), _as3(ref)
    if p.shape != r.shape:
        raise ValueError(f"shapes differ: {p.shape} vs {r.shape}")
    L = np.broadcast_to(np.asarray(1.0 if data_range is None else data_range, np.float64), (p.shape[0],))
    st = tile_stats(p, r, np.ones(p.shape[1:], bool), L)
    return summarise(st, L, scale)


def psnr(pred: np.ndarray, ref: np.ndarray, data_range: float) -> float:
    """PSNR (dB) over all bands: 10 log10(L^2 / MSE); inf for identical arrays."""
    return float(_whole(pred, ref, data_range)["overall"]["psnr"])


def ssim(pred: np.ndarray, ref: np.ndarray, data_range: float) -> float:
    """Mean SSIM over pixels and bands (Gaussian window sigma 1.5, K1=0.01, K2=0.03)."""
    return float(_whole(pred, ref, data_range)["overall"]["ssim"])


def sam(pred: np.ndarray, ref: np.ndarray) -> float:
    """Mean spectral angle (degrees) between per-pixel band vectors."""
    return float(_whole(pred, ref, None)["overall"]["sam"])


def ergas(pred: np.ndarray, ref: np.ndarray, scale: int) -> float:
    """ERGAS = 100/scale * sqrt(mean_b (RMSE_b / mean(ref_b))^2)."""
    return float(_whole(pred, ref, None, scale)["overall"]["ergas"])
