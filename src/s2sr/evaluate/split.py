"""Restrict scoring to the test split of a prepared dataset.

``prepare`` writes one row per patch to ``DIR/store/<split>/index.csv`` with its
pair number and bounds (left, bottom, right, top) in the LR CRS units, and the
pairs' LR paths and CRS to ``DIR/prepare.json``. Patches count for the evaluated
LR image when they come from the same pair, or from any pair in the same (real)
CRS, since then their bounds are places on the same ground (another date of the
same area is still a training area). A fine-grid pixel is scored when its centre
lies inside a test patch and inside no train or val patch, so a training area is
never scored even where patches touch or overlap.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from affine import Affine
from rasterio.crs import CRS

from s2sr.errors import InputError

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class SplitAreas:
    """Patch boxes of the test split and of the splits used for training."""

    test: list[Box]
    excluded: list[Box]


def _boxes(path: Path, pairs: set[int] | None) -> list[Box]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    try:
        return [(float(r["left"]), float(r["bottom"]), float(r["right"]), float(r["top"])) for r in rows
                if pairs is None or int(r.get("pair") or 0) in pairs]
    except (KeyError, ValueError):
        raise InputError(f"{path}: no numeric pair,left,bottom,right,top columns; re-run `s2sr prepare`") from None


def _same_crs(a: str | None, b: CRS | None) -> bool:
    return a is not None and b is not None and CRS.from_wkt(a) == b


def matching_pairs(root: Path, lr_path: Path | None, lr_crs: CRS | None) -> set[int] | None:
    """Pair numbers whose patch bounds lie on the ground of ``lr_path`` (None: all, no prepare.json)."""
    meta_path = root / "prepare.json"
    if lr_path is None or not meta_path.is_file():
        return None
    inputs = json.loads(meta_path.read_text()).get("inputs") or []
    me = Path(lr_path).resolve()
    same = {i for i, p in enumerate(inputs) if Path(p.get("lr", "")).resolve() == me}
    crs_pairs = {i for i, p in enumerate(inputs) if _same_crs(p.get("crs_wkt"), lr_crs)}
    if not same and not crs_pairs:
        raise InputError(
            f"{lr_path}: not one of the LR images of {meta_path} and not in the same CRS as any; "
            "pass the --lr used by `s2sr prepare` (patch bounds of other scenes do not apply)"
        )
    return same | crs_pairs


def load_split(root: str | Path, lr_path: Path | None = None, lr_crs: CRS | None = None) -> SplitAreas:
    """Read the patch boxes of a prepared dataset directory ``root`` that apply to ``lr_path``."""
    root = Path(root)
    test_idx = root / "store" / "test" / "index.csv"
    if not test_idx.is_file():
        raise InputError(f"{root}: no test split ({test_idx} missing); pass the directory written by `s2sr prepare`")
    pairs = matching_pairs(root, lr_path, lr_crs)
    test = _boxes(test_idx, pairs)
    if not test:
        raise InputError(f"{test_idx}: no test patch for {lr_path or 'this image'}; re-run `s2sr prepare` with a test fraction > 0")
    excluded = _boxes(root / "store" / "train" / "index.csv", pairs) + _boxes(root / "store" / "val" / "index.csv", pairs)
    return SplitAreas(test, excluded)


def _inside(boxes: list[Box], transform: Affine, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    out = np.zeros(shape, bool)
    cols = np.arange(w) + 0.5
    rows = np.arange(h) + 0.5
    xs = transform.c + transform.a * cols
    ys = transform.f + transform.e * rows
    for left, bottom, right, top in boxes:
        inx = (xs > left) & (xs < right)
        iny = (ys > bottom) & (ys < top)
        if inx.any() and iny.any():
            out[np.ix_(iny, inx)] = True
    return out


def split_mask(areas: SplitAreas, transform: Affine, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) mask of a window with ``transform``: True on test-only pixels."""
    return _inside(areas.test, transform, shape) & ~_inside(areas.excluded, transform, shape)
