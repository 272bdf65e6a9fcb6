"""Structure density of reference tiles, relative to the scene, and strata by its quantiles.

Gradient g = Sobel magnitude of the band-mean reference (input units per pixel). Each tile
keeps a histogram of g over its scored pixels on fixed log-spaced bins (100 per decade,
from 1e-6 to 10 times ``unit``, the mean data range), so the scene needs no second pass and
memory stays bounded. After all tiles are scored, the scene's edge threshold ``t`` is the
first bin edge at or above the ``q``-quantile of g over all scored pixels (default the
median), and a tile's **edge density** is the fraction of its scored pixels with g >= t.
A fixed threshold marks nearly every pixel of a dense city as an edge; a threshold relative
to the scene keeps tiles apart (built-up blocks vs water, parks, large roofs). Tiles are
split into ``n`` strata at the density quantiles, so dense areas get their own row.
"""

from __future__ import annotations

import numpy as np

from s2sr.evaluate.metrics import grad_mag

DECADES = (-6, 1)  # bin range, as powers of ten times the unit
PER_DECADE = 100


def _edges(unit: float) -> np.ndarray:
    n = (DECADES[1] - DECADES[0]) * PER_DECADE
    return unit * np.logspace(DECADES[0], DECADES[1], n + 1)


def gradient_histogram(ref: np.ndarray, mask: np.ndarray, unit: float) -> np.ndarray:
    """Counts of |grad(band mean of (C, H, W) ``ref``)| over ``mask`` in the bins of ``unit``.

    Bin 0 holds g < unit * 1e-6, bin i (1..n) holds edges[i-1] <= g < edges[i], the last
    bin g >= 10 * unit.
    """
    m = mask.astype(bool)
    g = grad_mag(np.nan_to_num(ref).mean(axis=0, keepdims=True))[0][m]
    idx = np.searchsorted(_edges(unit), g, side="right")
    return np.bincount(idx, minlength=len(_edges(unit)) + 1).astype(np.int64)


def edge_threshold(hists: list[np.ndarray], q: float, unit: float) -> tuple[int, float]:
    """(bin k, threshold t): pixels in bins > k have g >= t, t the first bin edge at or above the q-quantile."""
    total = np.sum(hists, axis=0)
    n = int(total.sum())
    if n == 0:
        raise ValueError("no scored pixel to set an edge threshold")
    k = int(np.searchsorted(np.cumsum(total), q * n, side="left"))
    edges = _edges(unit)
    return k, float(edges[k]) if k < len(edges) else float("inf")


def tile_density(hist: np.ndarray, k: int) -> float:
    """Fraction of a tile's pixels above threshold bin ``k`` (NaN for an empty tile)."""
    n = int(hist.sum())
    return float(hist[k + 1:].sum() / n) if n else float("nan")


def strata_edges(densities: list[float], n: int) -> list[float]:
    """Quantile cut points (n+1 values from min to max) of the tile densities."""
    d = np.asarray(densities, np.float64)
    if d.size == 0:
        return []
    return [float(v) for v in np.quantile(d, np.linspace(0.0, 1.0, n + 1))]


def assign_strata(densities: list[float], edges: list[float]) -> list[int]:
    """Stratum index (0 = sparsest) of each density given the quantile ``edges``."""
    if not edges:
        return []
    inner = np.asarray(edges[1:-1], np.float64)
    return [int(np.searchsorted(inner, v, side="right")) for v in densities]


def stratum_names(n: int) -> list[str]:
    """Readable names: sparse ... dense."""
    if n == 1:
        return ["all"]
    if n == 3:
        return ["sparse", "medium", "dense"]
    return [f"q{i + 1}/{n}" + (" (sparse)" if i == 0 else " (dense)" if i == n - 1 else "") for i in range(n)]
