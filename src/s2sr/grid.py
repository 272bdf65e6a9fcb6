"""The fine grid: the LR grid with pixel size LR_res / scale, same origin and bounds.

``prepare``, ``apply`` and ``evaluate`` all derive the super-resolved grid from
:func:`fine_grid`, so an SR pixel edge always falls on an LR pixel edge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from affine import Affine
from rasterio.windows import Window

from s2sr.errors import ConfigError, GridError

SCALES = range(2, 9)  # the integer scales the whole pipeline supports


@dataclass(frozen=True)
class Grid:
    """A north-up raster grid: affine transform plus size (width, height) in pixels."""

    transform: Affine
    width: int
    height: int

    @property
    def res(self) -> tuple[float, float]:
        return (abs(self.transform.a), abs(self.transform.e))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in CRS units (the envelope of a rotated grid)."""
        xs, ys = zip(*(self.transform @ (c, r) for c in (0, self.width) for r in (0, self.height)), strict=True)
        return (min(xs), min(ys), max(xs), max(ys))


def check_scale(scale: object, where: str = "--scale") -> int:
    """Return ``scale`` as an int in 2..8, or raise a one-line ConfigError (the one scale check)."""
    try:
        f = float(scale)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: scale {scale!r} is not a number; use an integer 2..8") from None
    if not f.is_integer() or int(f) not in SCALES:
        raise ConfigError(f"{where}: scale {scale!r} is not an integer in 2..8; use e.g. --scale 4")
    return int(f)


def fine_grid(lr: Grid, scale: int) -> Grid:
    """The SR grid of ``lr`` at ``scale``: same origin and bounds, pixel size divided by scale."""
    t = lr.transform
    if t.b != 0 or t.d != 0:
        raise GridError("rotated/sheared grids are not supported; warp the input north-up first")
    ft = Affine(t.a / scale, 0.0, t.c, 0.0, t.e / scale, t.f)
    return Grid(ft, lr.width * scale, lr.height * scale)


def fine_window(window: Window, scale: int) -> Window:
    """The window on the fine grid covering exactly the LR ``window``."""
    return Window(
        window.col_off * scale, window.row_off * scale, window.width * scale, window.height * scale
    )


def pixel_region(grid: Grid, window: tuple[int, ...] | None, bbox: tuple[float, ...] | None,
                 name: str) -> Window | None:
    """The pixel window of ``--window`` (col, row, width, height) or ``--bbox`` (left, bottom, right,
    top in CRS units, snapped outward to whole pixels) on ``grid`` (raster ``name``); None: neither."""
    if window is not None:
        return Window(*[int(v) for v in window])
    if bbox is None:
        return None
    left, bottom, right, top = bbox
    if right <= left or top <= bottom:
        raise ConfigError(f"--bbox {bbox}: expected left,bottom,right,top with right>left and top>bottom")
    # pixel coordinates of the box corners: also right for south-up grids (a pixel grid without CRS has
    # rows going down with y), where rasterio's from_bounds refuses the box
    inv = ~grid.transform
    cols, rows = zip(*(inv @ (x, y) for x in (left, right) for y in (bottom, top)), strict=True)
    eps = 1e-6  # snap outward to whole pixels, tolerating float noise on exact pixel edges
    c0, r0 = max(0, math.floor(min(cols) + eps)), max(0, math.floor(min(rows) + eps))
    c1 = min(grid.width, math.ceil(max(cols) - eps))
    r1 = min(grid.height, math.ceil(max(rows) - eps))
    if c1 <= c0 or r1 <= r0:
        raise ConfigError(f"--bbox {bbox}: does not overlap {name} (bounds {grid.bounds}); fix --bbox")
    return Window(c0, r0, c1 - c0, r1 - r0)


def clip_window(window: Window, width: int, height: int) -> Window:
    """Intersect ``window`` with a raster of ``width`` x ``height`` (may give an empty window)."""
    c0 = max(0, int(window.col_off))
    r0 = max(0, int(window.row_off))
    c1 = min(width, int(window.col_off + window.width))
    r1 = min(height, int(window.row_off + window.height))
    return Window(c0, r0, max(0, c1 - c0), max(0, r1 - r0))
