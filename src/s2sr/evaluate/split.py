"""Restrict scoring to the test split of a prepared dataset, pixel by pixel.

The patch boxes come from :meth:`s2sr.data.dataset.Dataset.split_areas` (test patches
of the pairs on the same ground as the evaluated LR image, and the train/val patches
to exclude). A fine-grid pixel is scored when its centre
lies inside a test patch and inside no train or val patch, so a training area is
never scored even where patches touch or overlap.
"""

from __future__ import annotations

import numpy as np
from affine import Affine

from s2sr.data.dataset import Box, SplitAreas


def boxes_mask(boxes: list[Box], transform: Affine, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) mask of a window with ``transform``: True where the pixel centre lies inside a box."""
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
    return boxes_mask(areas.test, transform, shape) & ~boxes_mask(areas.excluded, transform, shape)
