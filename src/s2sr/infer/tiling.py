"""The tile plan: pure functions from (region, tile, overlap, margin, scale) to windows and weights.

Along each axis the region (a window of the scene, LR pixels) is split into ``n =
ceil(length / tile)`` *cores* of nearly equal length (``floor`` or ``ceil`` of
``length / n``). Each interior seam between two cores is the centre of an
*overlap zone* ``overlap`` LR pixels wide, where the two neighbouring tiles are
blended with a raised-cosine ramp (``sin^2`` rising, ``1 - sin^2`` falling, so the
weights sum to one). A tile's *support* is its core widened over its zones;
its *read span* is its core widened by the zone half-widths on both sides (also at
region edges, so every tile of a plan has the same input size up to one pixel),
plus ``margin`` LR pixels of context. Whatever the read span leaves the scene is
padded (reflect by default).

The output is partitioned into non-overlapping *pieces*: the product of the
axis segments "core minus zones" (one contributing tile per axis) and "zone"
(two tiles per axis). A piece is final when all its 1, 2 or 4 tiles are known;
it is then summed in a fixed tile order and written once. Each piece depends
only on deterministic tile computations, which makes ``--resume`` bit-identical.
"""

from __future__ import annotations

import math
from collections.abc import Container, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import overload

import numpy as np
from rasterio.windows import Window

from s2sr.errors import ConfigError

Tile = tuple[int, int]  # (row index, column index)


@dataclass(frozen=True)
class Segment:
    """A run of LR pixels ``[lo, hi)`` (region coordinates) and the tiles covering it."""

    lo: int
    hi: int
    tiles: tuple[int, ...]


@dataclass(frozen=True)
class AxisPlan:
    """The 1-D plan of one axis: region ``[0, length)`` at ``start`` in a scene of ``scene_len``."""

    start: int
    length: int
    scene_len: int
    tile: int
    overlap: int
    margin: int

    @cached_property
    def bounds(self) -> tuple[int, ...]:
        """Core boundaries ``b_0 = 0 < b_1 < ... < b_n = length``."""
        n = max(1, math.ceil(self.length / self.tile))
        return tuple(round(k * self.length / n) for k in range(n + 1))

    @property
    def n(self) -> int:
        return len(self.bounds) - 1

    @property
    def half(self) -> int:
        """Zone part before a seam; the part after it is ``overlap - half``."""
        return self.overlap // 2

    def zone(self, k: int) -> tuple[int, int]:
        """The overlap zone around seam ``k`` (1..n-1)."""
        lo = self.bounds[k] - self.half
        return (lo, lo + self.overlap)

    @cached_property
    def tile_segments(self) -> tuple[tuple[int, ...], ...]:
        """For each tile ``k``, the indices in :attr:`segments` of the segments it contributes to."""
        acc: list[list[int]] = [[] for _ in range(self.n)]
        for i, seg in enumerate(self.segments):
            for k in seg.tiles:
                acc[k].append(i)
        return tuple(tuple(a) for a in acc)

    @cached_property
    def segments(self) -> tuple[Segment, ...]:
        segs: list[Segment] = []
        pos = 0
        for k in range(self.n):
            end = self.zone(k + 1)[0] if k + 1 < self.n else self.length
            if end > pos:
                segs.append(Segment(pos, end, (k,)))
            if k + 1 < self.n:
                z0, z1 = self.zone(k + 1)
                segs.append(Segment(z0, z1, (k, k + 1)))
                pos = z1
        return tuple(segs)

    def support(self, k: int) -> tuple[int, int]:
        """Where tile ``k`` contributes (region coordinates)."""
        lo = self.zone(k)[0] if k > 0 else 0
        hi = self.zone(k + 1)[1] if k + 1 < self.n else self.length
        return (lo, hi)

    def read_span(self, k: int) -> tuple[int, int]:
        """Model input span of tile ``k`` in region coordinates (may leave the region/scene)."""
        lo = self.bounds[k] - self.half - self.margin
        hi = self.bounds[k + 1] + (self.overlap - self.half) + self.margin
        return (lo, hi)

    def scene_read(self, k: int) -> tuple[int, int, int, int]:
        """(scene offset, length, pad before, pad after) of tile ``k``'s read span."""
        lo, hi = self.read_span(k)
        s_lo, s_hi = lo + self.start, hi + self.start
        c_lo, c_hi = max(0, s_lo), min(self.scene_len, s_hi)
        return (c_lo, c_hi - c_lo, c_lo - s_lo, s_hi - c_hi)

    def weights(self, k: int, scale: int) -> np.ndarray:
        """Blend weight of tile ``k`` over its support on the fine grid (float32, 1-D)."""
        f0, f1 = self.support(k)
        w = np.ones((f1 - f0) * scale, dtype=np.float64)
        ramp = raised_cosine(self.overlap * scale)
        if k > 0:
            w[: ramp.size] = ramp
        if k + 1 < self.n:
            w[w.size - ramp.size:] = 1.0 - ramp
        return w.astype(np.float32)


def raised_cosine(n: int) -> np.ndarray:
    """Rising ramp of length ``n``: ``sin^2(pi/2 (i + 0.5) / n)``; ``r[i] + r[n-1-i] == 1``."""
    i = np.arange(n, dtype=np.float64)
    return np.sin(0.5 * np.pi * (i + 0.5) / max(n, 1)) ** 2


@dataclass(frozen=True)
class Piece:
    """A non-overlapping output region (LR pixels, region coordinates) and its tiles."""

    index: int
    row: Segment
    col: Segment

    @property
    def tiles(self) -> tuple[Tile, ...]:
        return tuple((r, c) for r in self.row.tiles for c in self.col.tiles)

    def window(self) -> Window:
        """LR window of the piece, region coordinates."""
        return Window(self.col.lo, self.row.lo, self.col.hi - self.col.lo, self.row.hi - self.row.lo)


class TileGrid(Sequence[Tile]):
    """The ``rows`` x ``cols`` tiles in row-major order, computed on access (no list of the scene's tiles)."""

    def __init__(self, rows: int, cols: int) -> None:
        self.rows, self.cols = rows, cols

    def __len__(self) -> int:
        return self.rows * self.cols

    @overload
    def __getitem__(self, i: int) -> Tile: ...

    @overload
    def __getitem__(self, i: slice) -> list[Tile]: ...

    def __getitem__(self, i: int | slice) -> Tile | list[Tile]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        r, c = divmod(i % len(self), self.cols)
        return (r, c)

    def __iter__(self) -> Iterator[Tile]:
        return ((r, c) for r in range(self.rows) for c in range(self.cols))


class PieceGrid(Sequence[Piece]):
    """The pieces (row segments x column segments, row-major), each built on access."""

    def __init__(self, rows: tuple[Segment, ...], cols: tuple[Segment, ...]) -> None:
        self.rows, self.cols = rows, cols

    def __len__(self) -> int:
        return len(self.rows) * len(self.cols)

    @overload
    def __getitem__(self, i: int) -> Piece: ...

    @overload
    def __getitem__(self, i: slice) -> list[Piece]: ...

    def __getitem__(self, i: int | slice) -> Piece | list[Piece]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i %= len(self)
        r, c = divmod(i, len(self.cols))
        return Piece(i, self.rows[r], self.cols[c])

    def __iter__(self) -> Iterator[Piece]:
        return (self[i] for i in range(len(self)))


@dataclass(frozen=True)
class TileRead:
    """Where tile pixels come from: a window of the scene plus padding ((top, bottom), (left, right))."""

    window: Window
    pad: tuple[tuple[int, int], tuple[int, int]]


@dataclass(frozen=True)
class TilePlan:
    """All windows of a streamed inference over ``region`` of a ``scene_width`` x ``scene_height`` scene."""

    region: Window
    scene_width: int
    scene_height: int
    tile: int
    overlap: int
    margin: int
    scale: int

    @cached_property
    def x(self) -> AxisPlan:
        r = self.region
        return AxisPlan(int(r.col_off), int(r.width), self.scene_width, self.tile, self.overlap, self.margin)

    @cached_property
    def y(self) -> AxisPlan:
        r = self.region
        return AxisPlan(int(r.row_off), int(r.height), self.scene_height, self.tile, self.overlap, self.margin)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of tiles."""
        return (self.y.n, self.x.n)

    @property
    def tiles(self) -> TileGrid:
        """All tiles in row-major order (a lazy sequence: memory does not grow with the scene)."""
        return TileGrid(self.y.n, self.x.n)

    @property
    def n_tiles(self) -> int:
        return self.y.n * self.x.n

    @property
    def out_size(self) -> tuple[int, int]:
        """(width, height) of the output on the fine grid."""
        return (int(self.region.width) * self.scale, int(self.region.height) * self.scale)

    def read(self, t: Tile) -> TileRead:
        ro, rl, rpb, rpa = self.y.scene_read(t[0])
        co, cl, cpb, cpa = self.x.scene_read(t[1])
        return TileRead(Window(co, ro, cl, rl), ((rpb, rpa), (cpb, cpa)))

    def support(self, t: Tile) -> Window:
        """LR window where tile ``t`` contributes (region coordinates)."""
        r0, r1 = self.y.support(t[0])
        c0, c1 = self.x.support(t[1])
        return Window(c0, r0, c1 - c0, r1 - r0)

    def crop(self, t: Tile) -> tuple[slice, slice]:
        """Slices of the model output (fine grid) that cover the support of ``t``."""
        s = self.scale
        fy, fx = self.y.support(t[0]), self.x.support(t[1])
        ry, rx = self.y.read_span(t[0]), self.x.read_span(t[1])
        return (slice((fy[0] - ry[0]) * s, (fy[1] - ry[0]) * s), slice((fx[0] - rx[0]) * s, (fx[1] - rx[0]) * s))

    def weights(self, t: Tile) -> np.ndarray:
        """(h, w) float32 blend weights over the support on the fine grid."""
        return np.outer(self.y.weights(t[0], self.scale), self.x.weights(t[1], self.scale))

    @property
    def pieces(self) -> PieceGrid:
        """All pieces, index ``row segment * column segments + column segment`` (a lazy sequence)."""
        return PieceGrid(self.y.segments, self.x.segments)

    def pieces_of(self, t: Tile) -> tuple[int, ...]:
        """Indices of the pieces tile ``t`` contributes to."""
        nx = len(self.x.segments)
        return tuple(r * nx + c for r in self.y.tile_segments[t[0]] for c in self.x.tile_segments[t[1]])

    def tiles_for(self, pieces: set[int] | frozenset[int]) -> list[Tile]:
        """Tiles (row-major) needed to finish ``pieces`` (a small set; see :meth:`todo` for a whole scene)."""
        need = {t for i in pieces for t in self.pieces[i].tiles}
        return sorted(need)

    def todo(self, done: Container[int]) -> Iterator[Tile]:
        """Tiles (row-major) with at least one piece not in ``done``, generated one at a time."""
        for t in self.tiles:
            if any(i not in done for i in self.pieces_of(t)):
                yield t


def make_plan(
    scene_width: int,
    scene_height: int,
    scale: int,
    tile: int = 128,
    overlap: int = 16,
    margin: int = 8,
    region: Window | None = None,
) -> TilePlan:
    """Validate the parameters and build a :class:`TilePlan` (``region`` defaults to the scene)."""
    if tile < 2:
        raise ConfigError(f"--tile {tile}: must be at least 2 LR pixels; use e.g. --tile 128")
    if overlap < 0 or overlap > tile // 2:
        raise ConfigError(f"--overlap {overlap}: must be in 0..tile/2 ({tile // 2}); lower --overlap or raise --tile")
    if margin < 0:
        raise ConfigError(f"margin {margin}: must be >= 0")
    region = region if region is not None else Window(0, 0, scene_width, scene_height)
    r = Window(int(region.col_off), int(region.row_off), int(region.width), int(region.height))
    if r.width <= 0 or r.height <= 0 or r.col_off < 0 or r.row_off < 0 or \
            r.col_off + r.width > scene_width or r.row_off + r.height > scene_height:
        raise ConfigError(
            f"window {r.col_off},{r.row_off},{r.width},{r.height}: not inside the "
            f"{scene_width}x{scene_height} scene; pass --window/--bbox within the input"
        )
    return TilePlan(r, scene_width, scene_height, tile, overlap, margin, scale)
