"""Scores of a predicted uncertainty against the actual error, mergeable tile by tile.

Per tile (the pixels ``evaluate`` scores) :func:`tile_scores` counts, per band and for every
calibrated level, the pixels whose actual ``|SR - reference|`` lies within the predicted
half-width (empirical coverage), keeps a seeded random sample of (predicted, actual) pairs for
the per-pixel Spearman rank correlation, and the means of both over every 16 x 16 block that
lies wholly in the scored pixels (per-block correlation). :func:`summarise` turns the sums
into the numbers of ``metrics.json`` (see docs/uncertainty.md).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from s2sr.uncertainty.calibration import REPORT_LEVELS

log = logging.getLogger(__name__)

BLOCK = 16
FILE_LEVEL = 0.9  # the level evaluate asks apply for; the other levels are rescaled from it
SAMPLE_CAP = 2_000_000  # (pixel, band) pairs kept for the per-pixel rank correlation


@dataclass
class UncStats:
    """Sums over tiles: coverage counts, a pixel sample and block means."""

    levels: tuple[float, ...]
    covered: np.ndarray  # (levels, bands) pixels with |error| <= half-width
    n: np.ndarray  # (bands,) scored pixels
    px_pred: list[np.ndarray] = field(default_factory=list)  # (bands, k) per tile
    px_err: list[np.ndarray] = field(default_factory=list)
    blk_pred: list[np.ndarray] = field(default_factory=list)  # (bands, k) block means
    blk_err: list[np.ndarray] = field(default_factory=list)

    def __add__(self, o: UncStats) -> UncStats:
        return UncStats(self.levels, self.covered + o.covered, self.n + o.n, self.px_pred + o.px_pred,
                        self.px_err + o.px_err, self.blk_pred + o.blk_pred, self.blk_err + o.blk_err)


def empty(levels: tuple[float, ...], bands: int) -> UncStats:
    return UncStats(tuple(levels), np.zeros((len(levels), bands), np.int64), np.zeros(bands, np.int64))


def tile_scores(scale: np.ndarray, err: np.ndarray, mask: np.ndarray, quantiles: np.ndarray,
                levels: tuple[float, ...], origin: tuple[int, int], sample_rate: float, seed: int) -> UncStats:
    """Scores of one tile. ``scale`` (C, H, W): predicted error scale (half-width / its quantile), ``err``:
    actual ``|SR - reference|``, ``mask`` (H, W): scored pixels, ``quantiles`` (levels, C); ``origin``:
    (row, col) inside the arrays where the 16 x 16 block grid starts; ``sample_rate``: the fraction of
    pixels kept for the rank correlation (seeded by ``seed``)."""
    c = scale.shape[0]
    st = empty(levels, c)
    if not mask.any():
        return st
    s, e = scale[:, mask].astype(np.float64), err[:, mask].astype(np.float64)
    r = e / np.maximum(s, 1e-30)
    st.covered[:] = (r[None] <= np.asarray(quantiles, np.float64)[:, :, None]).sum(-1)
    st.n[:] = mask.sum()
    keep = np.random.default_rng(seed).random(s.shape[1]) < sample_rate
    q = quantiles[list(levels).index(0.9)] if 0.9 in levels else quantiles[-1]
    hw = s * np.asarray(q, np.float64)[:, None]
    st.px_pred.append(hw[:, keep].astype(np.float32))
    st.px_err.append(e[:, keep].astype(np.float32))
    bp, be = _blocks(scale * np.asarray(q, np.float32)[:, None, None], err, mask, origin)
    if bp.size:
        st.blk_pred.append(bp)
        st.blk_err.append(be)
    return st


def _blocks(pred: np.ndarray, err: np.ndarray, mask: np.ndarray, origin: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Means of ``pred`` and ``err`` (C, nb) over the 16 x 16 blocks wholly inside ``mask``."""
    r0, c0 = origin
    H, W = mask.shape
    nr, nc = (H - r0) // BLOCK, (W - c0) // BLOCK
    if nr <= 0 or nc <= 0:
        return np.zeros((pred.shape[0], 0), np.float32), np.zeros((pred.shape[0], 0), np.float32)
    sl = (slice(r0, r0 + nr * BLOCK), slice(c0, c0 + nc * BLOCK))

    def blk(a: np.ndarray) -> np.ndarray:
        return a.reshape(*a.shape[:-2], nr, BLOCK, nc, BLOCK).mean(axis=(-3, -1))

    full = blk(mask[sl].astype(np.float32)) >= 1.0
    return (blk(pred[(slice(None), *sl)].astype(np.float64))[:, full].astype(np.float32),
            blk(err[(slice(None), *sl)].astype(np.float64))[:, full].astype(np.float32))


def _spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    from scipy.stats import spearmanr

    if a.size < 3:
        return None
    return float(spearmanr(a, b).statistic)


def summarise(st: UncStats, report: tuple[float, ...] = REPORT_LEVELS) -> dict[str, Any]:
    """Coverage per level (overall and per band), reliability curve and rank correlations."""
    cov = st.covered / np.maximum(st.n, 1)[None]
    overall = st.covered.sum(1) / max(int(st.n.sum()), 1)
    out: dict[str, Any] = {
        "pixels": int(st.n[0]) if st.n.size else 0,
        "coverage": {f"{lv:g}": {"nominal": lv, "overall": float(overall[i]), "per_band": [float(v) for v in cov[i]]}
                     for i, lv in enumerate(st.levels) if any(abs(lv - r) < 1e-9 for r in report)},
        "reliability": [[lv, float(overall[i])] for i, lv in enumerate(st.levels)],
    }
    pp = np.concatenate(st.px_pred, 1) if st.px_pred else np.zeros((st.n.size, 0), np.float32)
    pe = np.concatenate(st.px_err, 1) if st.px_err else np.zeros((st.n.size, 0), np.float32)
    bp = np.concatenate(st.blk_pred, 1) if st.blk_pred else np.zeros((st.n.size, 0), np.float32)
    be = np.concatenate(st.blk_err, 1) if st.blk_err else np.zeros((st.n.size, 0), np.float32)
    out["spearman_pixel"] = _spearman(pp.ravel(), pe.ravel())
    out["spearman_pixel_per_band"] = [_spearman(pp[b], pe[b]) for b in range(pp.shape[0])]
    out["spearman_block"] = _spearman(bp.ravel(), be.ravel())
    out["spearman_block_per_band"] = [_spearman(bp[b], be[b]) for b in range(bp.shape[0])]
    out["sampled_pixels"], out["blocks"] = int(pp.shape[1]), int(bp.shape[1])
    out["binned"] = _binned(pp.ravel(), pe.ravel())
    return out


def _binned(pred: np.ndarray, err: np.ndarray, bins: int = 10) -> list[list[float]]:
    """Mean predicted 90 % half-width and mean actual |error| per decile of the prediction."""
    if pred.size < bins:
        return []
    edges = np.quantile(pred, np.linspace(0, 1, bins + 1))
    idx = np.clip(np.searchsorted(edges, pred, side="right") - 1, 0, bins - 1)
    out = []
    for k in range(bins):
        sel = idx == k
        if sel.any():
            out.append([float(pred[sel].mean()), float(err[sel].mean()), float(np.quantile(err[sel], 0.9))])
    return out


@dataclass(frozen=True)
class UncScoring:
    """How ``evaluate`` scores an uncertainty file written at ``file_level``."""

    levels: tuple[float, ...]
    quantiles: np.ndarray  # (levels, bands) conformal quantiles of |error| / scale
    file_level: float
    sample_rate: float

    @property
    def file_quantile(self) -> np.ndarray:
        return self.quantiles[list(self.levels).index(self.file_level)]


def unc_scoring(head: Any, tiles: list[Any], bands: int, file_level: float = FILE_LEVEL) -> UncScoring:
    """Scoring settings for ``head`` over ``tiles`` (windows) and a file written at ``file_level``: its
    calibration table and a sample rate that keeps about :data:`SAMPLE_CAP` pixel values for the rank
    correlation."""
    cal = head.calibration
    pixels = sum(int(w.width) * int(w.height) for w in tiles) * bands
    return UncScoring(cal.levels, np.asarray(cal.quantiles, np.float64), file_level,
                      min(1.0, SAMPLE_CAP / max(pixels, 1)))


def level_beside(sr: Path, head: Any) -> float | None:
    """``evaluate --sr``: the level of the ``apply --uncertainty`` file beside ``sr`` (scored with it), or
    None when the model has no head or there is no such file (then the uncertainty is not scored)."""
    from s2sr.errors import InputError
    from s2sr.infer.uncertainty import uncertainty_path

    if head is None:
        return None
    path = uncertainty_path(sr)
    if not path.exists():
        log.info("%s: no %s beside it (apply --uncertainty): the uncertainty is not scored", sr, path.name)
        return None
    import rasterio

    with rasterio.open(path) as ds:
        tag = ds.tags().get("S2SR_UNCERTAINTY_LEVEL", "")
    try:
        level = float(tag)
    except ValueError:
        level = math.nan
    if level not in head.calibration.levels:
        raise InputError(f"{path}: not an apply --uncertainty output of this model (level {tag or 'missing'}, "
                         f"calibrated: {', '.join(f'{v:g}' for v in head.calibration.levels)}); run apply "
                         "--uncertainty with --model again, or remove it")
    return level


def unc_document(head: Any, records: list[Any], file_level: float = FILE_LEVEL) -> dict[str, Any]:
    """``metrics.json``'s ``uncertainty`` entry: the summed scores of every tile and the head's provenance."""
    tiles = [r.unc for r in records if r.unc is not None]
    total = tiles[0]
    for t in tiles[1:]:
        total = total + t
    doc = summarise(total)
    doc.update(file_level=file_level, trained_on=list(head.trained_on), calibrated_on=list(head.calibrated_on),
               calibration_pixels=list(head.calibration.pixels))
    return doc
