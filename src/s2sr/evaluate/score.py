"""Score the model and the baselines tile by tile on the fine grid (bounded memory)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from affine import Affine
from rasterio.windows import Window
from tqdm import tqdm

from s2sr.data.dataset import SplitAreas
from s2sr.evaluate.baselines import BASELINE_MARGIN, BASELINES, resample
from s2sr.evaluate.metrics import Stats, tile_stats
from s2sr.evaluate.scene import Scene
from s2sr.evaluate.split import split_mask
from s2sr.evaluate.stratify import gradient_histogram
from s2sr.grid import clip_window
from s2sr.sensor import SensorModel, area_downsample
from s2sr.uncertainty.scores import UncScoring, UncStats, tile_scores

MODEL = "model"


@dataclass
class TileRecord:
    """One scored tile: its core window on the fine grid, gradient histogram, statistics.

    ``density`` (edge density relative to the scene) is set once all tiles are scored.
    """

    window: Window
    grad_hist: np.ndarray
    stats: dict[str, Stats] = field(default_factory=dict)
    density: float = math.nan
    unc: UncStats | None = None  # scores of the model's uncertainty output (models with a head)

    @property
    def pixels(self) -> int:
        return int(self.stats[MODEL].n)

    def psnr(self, method: str, data_range: np.ndarray) -> float:
        st = self.stats[method]
        mse = float(np.mean(st.sse / st.n))
        return math.inf if mse == 0 else 10 * math.log10(float(np.mean(data_range)) ** 2 / mse)


@dataclass
class TileArrays:
    """The arrays of one tile core (for crops in the report)."""

    lr: np.ndarray
    ref: np.ndarray
    preds: dict[str, np.ndarray]


def tile_margin(sensor: SensorModel) -> int:
    """Fine-pixel margin for filters (SSIM, high-pass, degrade), a multiple of the scale."""
    s = sensor.scale
    return s * math.ceil(max(8, sensor.radius_hr) / s)


def plan_tiles(scene: Scene, lr_tile: int, areas: SplitAreas | None) -> list[Window]:
    """Core windows of ``lr_tile`` LR pixels covering the fine grid, test-split tiles only."""
    tile = lr_tile * scene.scale
    W, H = scene.fine.width, scene.fine.height
    out = []
    for r in range(0, H, tile):
        for c in range(0, W, tile):
            w = Window(c, r, min(tile, W - c), min(tile, H - r))
            if areas is None or split_mask(areas, _wt(scene, w), (int(w.height), int(w.width))).any():
                out.append(w)
    return out


def _wt(scene: Scene, w: Window) -> Affine:
    return scene.fine.transform @ Affine.translation(w.col_off, w.row_off)


def _outer(scene: Scene, core: Window, m: int) -> Window:
    grown = Window(core.col_off - m, core.row_off - m, core.width + 2 * m, core.height + 2 * m)
    return clip_window(grown, scene.fine.width, scene.fine.height)


def read_scene_tile(scene: Scene, outer: Window) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(lr, lr_valid, ref, valid, {method: pred}) for ``outer``; valid = ref, SR and LR all valid."""
    s = scene.scale
    ref, ref_ok = scene.read_ref(outer)
    sr, sr_ok = scene.read_sr(outer)
    lr, lr_ok, _ = scene.read_lr(outer, 0)
    ok = ref_ok & sr_ok & np.repeat(np.repeat(lr_ok, s, 0), s, 1)
    lrb, _, lwb = scene.read_lr(outer, BASELINE_MARGIN)
    lrb = np.where(np.isfinite(lrb), lrb, np.nanmean(lrb) if np.isfinite(lrb).any() else 0)
    src_t = scene.lr.transform @ Affine.translation(lwb.col_off, lwb.row_off)
    preds = {MODEL: np.where(np.isfinite(sr), sr, 0)}
    for name in BASELINES:
        preds[name] = resample(lrb, src_t, _wt(scene, outer), (int(outer.height), int(outer.width)), name, scene.lr.crs)
    ref = np.where(ok, ref, preds["bicubic"])
    return lr, lr_ok, ref, ok, preds


def score_tile(scene: Scene, core: Window, sensor: SensorModel, L: np.ndarray, tol: float,
               grad_unit: float, areas: SplitAreas | None, m: int, unc: UncScoring | None = None) -> TileRecord | None:
    """Statistics of every method on one tile, or None when nothing there can be scored."""
    outer = _outer(scene, core, m)
    lr, lr_ok, ref, ok, preds = read_scene_tile(scene, outer)
    mask: np.ndarray = np.zeros(ok.shape, bool)
    r0, c0 = int(core.row_off - outer.row_off), int(core.col_off - outer.col_off)
    mask[r0: r0 + int(core.height), c0: c0 + int(core.width)] = True
    mask &= ok
    if areas is not None:
        mask &= split_mask(areas, _wt(scene, outer), (mask.shape[0], mask.shape[1]))
    if not mask.any():
        return None
    lr_mask = (area_downsample(mask.astype(np.float32), scene.scale) >= 1.0) & lr_ok
    rec = TileRecord(core, gradient_histogram(ref, mask, grad_unit))
    for name, pred in preds.items():
        rec.stats[name] = tile_stats(pred, ref, mask, L, sensor=sensor, lr=np.nan_to_num(lr),
                                     lr_mask=lr_mask, bicubic=preds["bicubic"], tol=tol)
    if unc is not None:
        hw, hw_ok = scene.read_unc(outer)
        scale = np.nan_to_num(hw) / unc.file_quantile.reshape(-1, 1, 1)
        rec.unc = tile_scores(scale, np.abs(preds[MODEL] - ref), mask & hw_ok, unc.quantiles, unc.levels,
                              (r0, c0), unc.sample_rate, int(core.row_off) * 1_000_003 + int(core.col_off))
    return rec


def score_scene(scene: Scene, tiles: list[Window], sensor: SensorModel, L: np.ndarray, tol: float,
                grad_unit: float, areas: SplitAreas | None, progress: bool = True,
                unc: UncScoring | None = None) -> list[TileRecord]:
    """Score all ``tiles`` (and the uncertainty output when ``unc``); returns the records of tiles with
    scored pixels."""
    m = tile_margin(sensor)
    out = []
    for w in tqdm(tiles, desc="evaluate", unit="tile", disable=not progress, leave=False):
        rec = score_tile(scene, w, sensor, L, tol, grad_unit, areas, m, unc)
        if rec is not None:
            out.append(rec)
    return out


def tile_arrays(scene: Scene, core: Window, areas: SplitAreas | None = None) -> TileArrays:
    """LR, reference and predictions of a tile core (no margin), for display; reference NaN where not scored."""
    lr, _, ref, ok, preds = read_scene_tile(scene, core)
    if areas is not None:
        ok = ok & split_mask(areas, _wt(scene, core), (ok.shape[0], ok.shape[1]))
    return TileArrays(lr=lr, ref=np.where(ok, ref, np.nan), preds=preds)


def total(records: list[TileRecord], method: str) -> Stats:
    """Sum of a method's statistics over ``records``."""
    st = Stats(records[0].stats[method].bands)
    for r in records:
        st = st + r.stats[method]
    return st
