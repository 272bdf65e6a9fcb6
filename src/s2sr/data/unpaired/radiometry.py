"""HR units to the LR sensor's units, per band, without co-located pixels.

The HR images, degraded to the LR resolution by the fitted sensor model, and the LR images show
different places, but land-cover statistics are shared well enough for their value
distributions to line up: per band, the quantiles (``levels``, trimmed so that clouds, water
glint and saturated pixels at the tails do not lead) of the degraded HR are matched to those of
the LR by a least-squares line ``LR = gain * HR + offset``. The residual of that line (RMS,
in LR units, relative to the LR inter-quantile range) says how far the two distributions are
from one affine map of each other.

Quantiles move when the two places hold land covers in other proportions (more forest here,
more water there). The spectra of the land covers move far less, so the quantile line is then
refined by aligning spectral clusters (:func:`align_clusters`): k-means centres of the degraded
HR pixels (4-D, all bands), mapped by the current line, attract the LR pixels nearest to them;
the per-band line through (HR centre, median of its LR pixels), each cluster weighted alike
whatever its area, is the next estimate. Proportions then only decide which clusters exist. The alignment is run
from 5 seeded k-means starts and the per-band median of their lines kept. Where the two places
share no land cover (rural HR, urban S2), clusters align unlike things: a band whose cluster line
matches the quantiles more than 4 times as badly as the quantile line (and by more than 10 % of the
LR 5-95 % range) keeps the quantile line; ``source`` says which line each band uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

LEVELS = tuple(np.round(np.linspace(0.05, 0.95, 19), 3))
RESTARTS = 5  # seeded k-means restarts of the cluster alignment
MISMATCH_FACTOR, MISMATCH_FLOOR = 4.0, 0.10  # a cluster line may match the quantiles this much worse


@dataclass(frozen=True)
class RadiometryFit:
    """Per band ``LR = gain * HR + offset`` and how well the quantiles line up."""

    gains: tuple[float, ...]
    offsets: tuple[float, ...]
    quantile_gains: tuple[float, ...]  # the quantile line alone, before the cluster alignment
    quantile_offsets: tuple[float, ...]
    clusters: int  # clusters that took part in the last alignment step
    rel_residual: tuple[float, ...]  # RMS of the quantile residual / (q95 - q05) of the LR
    levels: tuple[float, ...]
    lr_quantiles: tuple[tuple[float, ...], ...]
    hr_quantiles: tuple[tuple[float, ...], ...]
    source: tuple[str, ...] = ()  # per band: "clusters" (refined line kept) or "quantiles" (fell back)
    cluster_mismatch: tuple[float, ...] = ()  # quantile mismatch of the cluster line, as rel_residual

    def apply(self, hr: np.ndarray) -> np.ndarray:
        """(bands, h, w) HR values -> LR units (float32)."""
        g = np.asarray(self.gains, np.float64)[:, None, None]
        o = np.asarray(self.offsets, np.float64)[:, None, None]
        return (hr.astype(np.float64) * g + o).astype(np.float32)

    def to_dict(self) -> dict[str, object]:
        return {"model": "LR = gain * HR + offset", "gains": list(self.gains),  # as applied, unrounded
                "offsets": list(self.offsets),
                "quantile_gains": [round(v, 5) for v in self.quantile_gains],
                "quantile_offsets": [round(v, 2) for v in self.quantile_offsets], "clusters": self.clusters,
                "rel_residual": [round(v, 4) for v in self.rel_residual], "levels": list(self.levels),
                "lr_quantiles": [[round(v, 1) for v in q] for q in self.lr_quantiles],
                "hr_quantiles": [[round(v, 2) for v in q] for q in self.hr_quantiles],
                "source": list(self.source), "cluster_mismatch": [round(v, 4) for v in self.cluster_mismatch],
                "method": "line through matched quantiles of degraded HR and LR, refined by aligning spectral k-means clusters"}


def band_values(images: Sequence[tuple[np.ndarray, np.ndarray]], band: int, cap: int = 2_000_000,
                seed: int = 0) -> np.ndarray:
    """Valid values of ``band`` pooled over (bands, h, w) images, each image weighted by its size,
    subsampled to at most ``cap`` values (seeded)."""
    vals = np.concatenate([d[band][v].astype(np.float64) for d, v in images])
    if vals.size > cap:
        vals = np.random.default_rng(seed).choice(vals, cap, replace=False)
    return vals


def fit_radiometry(lr: Sequence[tuple[np.ndarray, np.ndarray]], hr_degraded: Sequence[tuple[np.ndarray, np.ndarray]],
                   levels: Sequence[float] = LEVELS, clusters: int = 16, seed: int = 0) -> RadiometryFit:
    """Per-band line through the matched quantiles of the LR and the degraded HR images, refined by
    :func:`align_clusters` (``clusters`` = 0: the quantile line alone)."""
    nb = lr[0][0].shape[0]
    lv = np.asarray(levels, np.float64)
    gains, offs, rels, lq, hq = [], [], [], [], []
    for band in range(nb):
        ql = np.quantile(band_values(lr, band), lv)
        qh = np.quantile(band_values(hr_degraded, band), lv)
        if np.ptp(qh) <= 0:
            gain, off = 0.0, float(np.median(ql))
        else:
            gain, off = (float(v) for v in np.polyfit(qh, ql, 1))
        resid = ql - (gain * qh + off)
        rels.append(float(np.sqrt(np.mean(resid ** 2)) / max(ql[-1] - ql[0], 1e-9)))
        gains.append(gain)
        offs.append(off)
        lq.append(tuple(float(v) for v in ql))
        hq.append(tuple(float(v) for v in qh))
    g, o, used = np.array(gains), np.array(offs), 0
    source, mismatch = ["quantiles"] * nb, []
    if clusters > 0:
        lr_px, hr_px = pixel_samples(lr, seed), pixel_samples(hr_degraded, seed + 1)
        runs = [align_clusters(lr_px, hr_px, g, o, clusters, seed + k) for k in range(RESTARTS)]
        cg = np.median([r[0] for r in runs], axis=0)  # k-means restarts: the median line is stable
        co = np.median([r[1] for r in runs], axis=0)
        used = int(np.median([r[2] for r in runs]))
        for b in range(nb):  # a cluster line that no longer matches the distributions aligned unlike clusters
            qh, ql = np.asarray(hq[b]), np.asarray(lq[b])
            miss = float(np.sqrt(np.mean((cg[b] * qh + co[b] - ql) ** 2)) / max(ql[-1] - ql[0], 1e-9))
            if miss <= max(MISMATCH_FACTOR * rels[b], MISMATCH_FLOOR):
                g[b], o[b], source[b] = cg[b], co[b], "clusters"
            mismatch.append(miss)
    return RadiometryFit(tuple(float(v) for v in g), tuple(float(v) for v in o), tuple(gains), tuple(offs), used,
                         tuple(rels), tuple(float(v) for v in lv), tuple(lq), tuple(hq), tuple(source),
                         tuple(mismatch))


def pixel_samples(images: Sequence[tuple[np.ndarray, np.ndarray]], seed: int, cap: int = 60_000) -> np.ndarray:
    """(n, bands) valid pixel vectors pooled over the images, at most ``cap`` (seeded)."""
    px = np.concatenate([d[:, v].T.astype(np.float64) for d, v in images])
    if len(px) > cap:
        px = px[np.random.default_rng(seed).choice(len(px), cap, replace=False)]
    return px


def align_clusters(lr: np.ndarray, hr: np.ndarray, gains: np.ndarray, offsets: np.ndarray, k: int, seed: int,
                   iters: int = 8, min_share: float = 0.01) -> tuple[np.ndarray, np.ndarray, int]:
    """Refine per-band ``LR = gains * HR + offsets`` by aligning spectral clusters of the HR pixels
    ``hr`` (n, bands) and the LR pixels ``lr`` (m, bands); see the module doc."""
    from scipy.cluster.vq import kmeans2
    from scipy.stats import theilslopes

    scale = lr.std(axis=0) + 1e-9
    g, o, used = gains.astype(np.float64), offsets.astype(np.float64), 0
    for _ in range(iters):
        mapped = hr * g + o
        centres, near_h = kmeans2(mapped / scale, k, seed=seed, minit="++")
        d = (((lr / scale)[:, None, :] - centres[None]) ** 2).sum(-1)
        near_l = d.argmin(axis=1)
        keep = [c for c in range(k) if (near_h == c).mean() >= min_share and (near_l == c).mean() >= min_share]
        if len(keep) < 3:
            break
        src = np.array([np.median(hr[near_h == c], axis=0) for c in keep])
        dst = np.array([np.median(lr[near_l == c], axis=0) for c in keep])
        g_new, o_new = g.copy(), o.copy()
        for b in range(lr.shape[1]):
            if np.ptp(src[:, b]) > 0:
                slope, icpt, *_ = theilslopes(dst[:, b], src[:, b])
                g_new[b], o_new[b] = slope, icpt
        done = np.allclose(g_new, g, rtol=1e-4) and np.allclose(o_new, o, atol=0.1)
        g, o, used = g_new, o_new, len(keep)
        if done:
            break
    return g, o, used
