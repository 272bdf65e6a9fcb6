"""The fine grid: the LR grid with pixel size LR_res / scale, same origin and bounds.

``prepare``, ``apply`` and ``evaluate`` all derive the super-resolved grid from
:func:`fine_grid`, so an SR pixel edge always falls on an LR pixel edge.
"""

from __future__ import annotations

from dataclasses import dataclass

from affine import Affine
from rasterio.windows import Window

from s2sr.errors import GridError


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
    """Return ``scale`` as an int in 2..8, or raise a clear error."""
    try:
        f = float(scale)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise GridError(f"{where}: scale {scale!r} is not a number; use an integer 2..8") from None
    if not f.is_integer() or not 2 <= f <= 8:
        raise GridError(f"{where}: scale {scale!r} is not an integer in 2..8; use e.g. --scale 4")
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


def clip_window(window: Window, width: int, height: int) -> Window:
    """Intersect ``window`` with a raster of ``width`` x ``height`` (may give an empty window)."""
    c0 = max(0, int(window.col_off))
    r0 = max(0, int(window.row_off))
    c1 = min(width, int(window.col_off + window.width))
    r1 = min(height, int(window.row_off + window.height))
    return Window(c0, r0, max(0, c1 - c0), max(0, r1 - r0))
