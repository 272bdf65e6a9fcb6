"""Structure density of reference tiles and strata by its quantiles.

Edge density of a tile = fraction of its scored pixels where the Sobel gradient
magnitude of the band-mean reference exceeds ``edge_tol`` (input units per pixel).
Tiles are split into ``n`` strata at the density quantiles, so dense areas (small
buildings, field boundaries) get their own row instead of vanishing in the mean.
"""

from __future__ import annotations

import numpy as np

from s2sr.evaluate.metrics import grad_mag


def edge_density(ref: np.ndarray, mask: np.ndarray, edge_tol: float) -> float:
    """Fraction of ``mask`` pixels of (C, H, W) ``ref`` with |grad(mean over bands)| > edge_tol."""
    m = mask.astype(bool)
    if not m.any():
        return float("nan")
    g = grad_mag(np.nan_to_num(ref).mean(axis=0, keepdims=True))[0]
    return float(np.mean(g[m] > edge_tol))


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
