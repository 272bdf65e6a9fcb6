"""opensr-test scores of a whole evaluation scene, for the model and every baseline.

opensr-test works on whole images (histogram matching and phase correlation are global),
so the scene is read in one window: the whole fine grid, or, when it has more than
``max_pixels`` fine pixels, the centred scale-aligned window of the same aspect that fits
(recorded in ``metrics.json``), which keeps memory bounded: about 80 bytes per fine pixel
and band at the peak (1.3 GB for 4 bands at the default 4 Mpx), about 10 s per method per
4 Mpx on the 2-core development machine. Values are divided by ``reflectance_scale`` (reflectance x 10000
inputs -> reflectance, as opensr-test expects). Nodata is filled for the whole-image steps
(LR: the band mean of its valid pixels; fine grid: the GDAL bicubic baseline) and left out
of every mean, as are pixels outside the test split (``--split-from``).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
from affine import Affine
from rasterio.windows import Window

from s2sr.data.dataset import SplitAreas
from s2sr.evaluate.opensr import DEFAULTS, SCORE_DIRECTION, OpensrParams, opensr_scores
from s2sr.evaluate.scene import Scene
from s2sr.evaluate.score import read_scene_tile
from s2sr.evaluate.split import split_mask

log = logging.getLogger(__name__)
PACKAGE = "opensr-test 1.3.3 (formulas reimplemented in s2sr.evaluate.opensr)"


def opensr_window(width: int, height: int, scale: int, max_pixels: int) -> Window:
    """The whole grid, or its centred scale-aligned window of the same aspect with <= ``max_pixels``."""
    if width * height <= max_pixels:
        return Window(0, 0, width, height)
    f = math.sqrt(max_pixels / (width * height))
    w = max(scale, int(width * f) // scale * scale)
    h = max(scale, int(height * f) // scale * scale)
    c0 = (width - w) // 2 // scale * scale
    r0 = (height - h) // 2 // scale * scale
    return Window(c0, r0, w, h)


def _skip(window: Window, whole: bool, reason: str) -> dict[str, Any]:
    log.warning("opensr-test scores skipped: %s", reason)
    return {"package": PACKAGE, "window": _win(window), "whole_scene": whole, "skipped": reason, "methods": {}}


def _win(w: Window) -> list[int]:
    return [int(w.col_off), int(w.row_off), int(w.width), int(w.height)]


def score_opensr(scene: Scene, areas: SplitAreas | None, max_pixels: int, reflectance_scale: float,
                 params: OpensrParams = DEFAULTS) -> dict[str, Any]:
    """``{"window", "whole_scene", "pixels", "methods": {method: scores}, "winners", ...}`` for the scene."""
    W, H, s = scene.fine.width, scene.fine.height, scene.scale
    win = opensr_window(W, H, s, max_pixels)
    whole = (int(win.width), int(win.height)) == (W, H)
    if min(int(win.width), int(win.height)) <= 2 * (params.border // s) * s:
        return _skip(win, whole, f"window {int(win.width)}x{int(win.height)} px is too small for the "
                                 f"{params.border}-pixel border; raise --opensr-max-pixels")
    lr, lr_ok, ref, ok, preds = read_scene_tile(scene, win)
    if areas is None:
        valid = ok
    else:
        t = scene.fine.transform @ Affine.translation(win.col_off, win.row_off)
        valid = ok & split_mask(areas, t, (ok.shape[0], ok.shape[1]))
    b = params.border // s * s
    scored = int(valid[b:-b, b:-b].sum()) if b else int(valid.sum())
    if scored == 0:
        return _skip(win, whole, "no valid pixel in the window inside its border")
    k = np.float32(1.0 / reflectance_scale)
    fill = np.array([np.mean(b[lr_ok]) if lr_ok.any() else 0.0 for b in lr], np.float32)[:, None, None]
    lr_r = np.where(lr_ok, lr, fill) * k
    ref_r = np.where(ok, ref, preds["bicubic"]) * k
    methods = {}
    for name, pred in preds.items():
        methods[name] = opensr_scores(lr_r, np.where(ok, pred, preds["bicubic"]) * k, ref_r, valid, params)
    if not whole:
        log.info("opensr-test scores on the centred window %s of the %dx%d fine grid", _win(win), W, H)
    return {"package": PACKAGE, "window": _win(win), "whole_scene": whole, "reflectance_scale": reflectance_scale,
            "pixels": scored, "skipped": None, "methods": methods, "winners": opensr_winners(methods)}


def opensr_winners(methods: dict[str, dict[str, float]]) -> dict[str, list[str]]:
    """Best method(s) per score with a direction (ties within 1e-12 all win; synthesis has none)."""
    out: dict[str, list[str]] = {}
    for score, d in SCORE_DIRECTION.items():
        vals = {m: v[score] for m, v in methods.items() if not math.isnan(v.get(score, math.nan))}
        if not d or not vals:
            continue
        key = {m: -x if d == "max" else x for m, x in vals.items()}
        best = min(key.values())
        out[score] = [m for m, x in key.items() if x <= best + 1e-12]
    return out
