"""Output blocks: finished pieces are pasted into 512x512 blocks; a full block is encoded at once,
and halved into its overview block (the overview pyramid is built from the blocks as they finish).

A level-0 block is full when every piece that overlaps it has been pasted (the count comes
from the tile plan's segments); an overview block when its 2x2 (or fewer, at the edges)
child blocks are in. A full block is encoded (:mod:`s2sr.io.tiffcodec`) in the thread that
completed it and handed to the :class:`~s2sr.infer.blockstore.BlockStore`; then its halved
copy goes to its parent. Only open blocks are held in memory: about one row of blocks
across the output, plus the rows of the tiles in flight, at each level.

Halving: the mean of each 2x2 pixel group (round half up for integers), ignoring nodata
pixels (nodata where all four are); at odd edges the last row/column counts for itself.
This is GDAL's ``AVERAGE`` overview resampling; its values are a fixed function of the
finished blocks, so resumed and distributed runs give the same overviews.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from s2sr.infer.tiling import TilePlan
from s2sr.io.cogblocks import level_sizes
from s2sr.io.tiffcodec import TileCodec, decode_tile, encode_tile

BLOCK = 512


@dataclass(frozen=True)
class BlockGrid:
    """The tiles of the output COG at every level, numbered level by level, row-major."""

    width: int
    height: int
    count: int
    dtype: str
    nodata: float | None
    block: int = BLOCK
    overviews: int | None = None  # overview levels (None: halved until one fits a block)

    @cached_property
    def sizes(self) -> list[tuple[int, int]]:
        return level_sizes(self.width, self.height, self.block, self.overviews)

    @cached_property
    def shapes(self) -> list[tuple[int, int]]:
        """(rows, cols) of blocks per level."""
        b = self.block
        return [(-(-h // b), -(-w // b)) for w, h in self.sizes]

    @cached_property
    def first(self) -> list[int]:
        """Id of the first block of each level."""
        out, n = [], 0
        for ny, nx in self.shapes:
            out.append(n)
            n += ny * nx
        return out

    @property
    def n_levels(self) -> int:
        return len(self.sizes)

    @property
    def n_blocks(self) -> int:
        ny, nx = self.shapes[-1]
        return self.first[-1] + ny * nx

    def id(self, level: int, bi: int, bj: int) -> int:
        return self.first[level] + bi * self.shapes[level][1] + bj

    def locate(self, bid: int) -> tuple[int, int, int]:
        level = bisect_right(self.first, bid) - 1
        bi, bj = divmod(bid - self.first[level], self.shapes[level][1])
        return level, bi, bj

    def extent(self, level: int, bi: int, bj: int) -> tuple[int, int]:
        """(rows, cols) of real pixels in a block (less than a block at the right and bottom edges)."""
        w, h = self.sizes[level]
        b = self.block
        return min(b, h - bi * b), min(b, w - bj * b)

    def children(self, level: int, bi: int, bj: int) -> list[tuple[int, int]]:
        """Blocks of ``level - 1`` that make up block (bi, bj) of ``level``."""
        ny, nx = self.shapes[level - 1]
        return [(i, j) for i in (2 * bi, 2 * bi + 1) for j in (2 * bj, 2 * bj + 1) if i < ny and j < nx]

    @property
    def fill(self) -> float:
        """Value of pixels no piece covers (outside the image, in edge blocks)."""
        return 0 if self.nodata is None else self.nodata

    def new_block(self) -> np.ndarray:
        return np.full((self.block, self.block, self.count), self.fill, dtype=self.dtype)


def _axis_counts(bounds: list[tuple[int, int]], n_blocks: int, block: int) -> np.ndarray:
    """For each block along an axis, how many of the (sorted, disjoint) ``bounds`` overlap it."""
    starts = [lo for lo, _ in bounds]
    ends = [hi for _, hi in bounds]
    out = np.zeros(n_blocks, np.int64)
    for b in range(n_blocks):
        lo, hi = b * block, (b + 1) * block
        out[b] = bisect_left(starts, hi) - bisect_right(ends, lo)
    return out


def piece_counts(plan: TilePlan, grid: BlockGrid) -> tuple[np.ndarray, np.ndarray]:
    """Pieces per level-0 block as the outer product of per-axis counts (rows, cols)."""
    s = plan.scale
    ny, nx = grid.shapes[0]
    y = _axis_counts([(g.lo * s, g.hi * s) for g in plan.y.segments], ny, grid.block)
    x = _axis_counts([(g.lo * s, g.hi * s) for g in plan.x.segments], nx, grid.block)
    return y, x


def halve(a: np.ndarray, nodata: float | None, masked: bool = True) -> np.ndarray:
    """2x2 mean of a (h, w, C) array, ignoring nodata (and NaN) samples; odd edges count once.
    ``masked=False``: the caller knows there is no nodata sample (no check)."""
    h, w = a.shape[:2]
    if h % 2 or w % 2:
        a = np.pad(a, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    if np.issubdtype(a.dtype, np.floating):
        return _halve_float(a, nodata, masked)
    if nodata is None or not masked or not (a == a.dtype.type(nodata)).any():
        wide = np.uint32 if a.dtype.itemsize <= 2 and np.issubdtype(a.dtype, np.unsignedinteger) else np.int64
        s: np.ndarray = a[0::2].astype(wide)
        s += a[1::2]
        s = s[:, 0::2] + s[:, 1::2]
        s += 2
        np.floor_divide(s, 4, out=s)
        return _nudge(s.astype(a.dtype), None, nodata)
    valid = a != a.dtype.type(nodata)
    n, t = _sum4(valid.astype(np.int64)), _sum4(np.where(valid, a, 0).astype(np.int64))
    none = n == 0
    out = ((2 * t + n) // np.maximum(2 * n, 1)).astype(a.dtype)
    return _nudge(out, none, nodata)


def _sum4(a: np.ndarray) -> np.ndarray:
    s = a[0::2] + a[1::2]
    return s[:, 0::2] + s[:, 1::2]


def _halve_float(a: np.ndarray, nodata: float | None, masked: bool) -> np.ndarray:
    valid = ~np.isnan(a) if masked else None
    if valid is not None and nodata is not None:
        valid &= a != nodata
    if valid is None or valid.all():
        return ((a[0::2, 0::2] + a[1::2, 0::2]) + (a[0::2, 1::2] + a[1::2, 1::2])) * a.dtype.type(0.25)
    n = _sum4(valid.astype(np.int64))
    out = (_sum4(np.where(valid, a, 0).astype(np.float64)) / np.maximum(n, 1)).astype(a.dtype)
    out[n == 0] = np.nan if nodata is None else nodata
    return out


def _nudge(out: np.ndarray, none: np.ndarray | None, nodata: float | None) -> np.ndarray:
    """Integer means: nodata where no sample was valid; a valid mean equal to nodata moves one unit away."""
    if nodata is None:
        return out
    nd = out.dtype.type(nodata)
    hit = out == nd
    if none is not None:
        hit &= ~none
    if hit.any():
        out[hit] = nd + 1 if nd < np.iinfo(out.dtype).max else nd - 1
    if none is not None:
        out[none] = nd
    return out


@dataclass
class _Open:
    data: np.ndarray  # (block, block, C)
    need: int  # pieces (level 0) or child blocks (overviews) still to come
    clean: bool = True  # no nodata pixel pasted (halving then needs no mask)


@dataclass
class Pyramid:
    """Open blocks of every level; ``put`` pastes a finished piece, full blocks go to ``emit``.

    ``emit(block_id, encoded_bytes)`` must be thread-safe; ``stored`` holds the blocks a
    previous run finished (they are skipped; see :meth:`prefill` for their overview parents);
    ``load(block_id)`` reads such a block's bytes back."""

    grid: BlockGrid
    codec: TileCodec
    counts: tuple[np.ndarray, np.ndarray]
    emit: Callable[[int, bytes], None]
    stored: Collection[int] = frozenset()
    load: Callable[[int], bytes] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    open: dict[int, _Open] = field(default_factory=dict)
    peak_open: int = 0

    def _need(self, level: int, bi: int, bj: int) -> int:
        if level == 0:
            return int(self.counts[0][bi] * self.counts[1][bj])
        return len(self.grid.children(level, bi, bj))

    def _paste(self, level: int, bi: int, bj: int, r0: int, c0: int, part: np.ndarray,
               valid: np.ndarray | None = None, clean: bool = True) -> _Open | None:
        """Paste ``part`` (h, w, C; output values, or rounded floats cast here) at (r0, c0) inside a
        block, nodata where ``valid`` is False; return the block when it is full. Only the block's
        bookkeeping is locked: pieces never overlap, so their pixels are copied in parallel, and a
        block is full only after the last copy into it has finished."""
        bid = self.grid.id(level, bi, bj)
        with self.lock:
            ob = self.open.get(bid)
            if ob is None:
                ob = self.open[bid] = _Open(self.grid.new_block(), self._need(level, bi, bj))
                self.peak_open = max(self.peak_open, len(self.open))
        dst = ob.data[r0:r0 + part.shape[0], c0:c0 + part.shape[1]]
        dst[...] = part
        if part.dtype != dst.dtype:
            self._nudge(dst, part, valid)
        if valid is not None:
            dst[~valid] = self.grid.fill if self.grid.nodata is not None else np.nan
        with self.lock:
            ob.clean &= clean and valid is None
            ob.need -= 1
            if ob.need == 0:
                del self.open[bid]
                return ob
        return None

    def _nudge(self, dst: np.ndarray, part: np.ndarray, valid: np.ndarray | None) -> None:
        """A valid pixel cast onto the nodata value moves one unit away (as :func:`~s2sr.io.values.to_output`)."""
        g = self.grid
        if g.nodata is None or np.issubdtype(dst.dtype, np.floating):
            return
        nd = dst.dtype.type(g.nodata)
        if not part.min() <= nd <= part.max():  # usual case: nothing to check pixel by pixel
            return
        hit = dst == nd
        if valid is not None:
            hit &= valid[..., None]
        if hit.any():
            dst[hit] = nd + 1 if nd < np.iinfo(dst.dtype).max else nd - 1

    def put(self, row: int, col: int, piece: np.ndarray, valid: np.ndarray | None = None) -> None:
        """Paste a finished piece (C, h, w) of the output at fine-grid (row, col): output values, or
        floats already clipped and rounded to the output's integer range (cast here), with its
        fine-grid ``valid`` mask (None: all valid)."""
        b = self.grid.block
        hwc = np.moveaxis(piece, 0, -1)
        h, w = hwc.shape[:2]
        full = []
        for bi in range(row // b, (row + h - 1) // b + 1):
            r0, r1 = max(row, bi * b), min(row + h, (bi + 1) * b)
            for bj in range(col // b, (col + w - 1) // b + 1):
                if self.grid.id(0, bi, bj) in self.stored:
                    continue
                c0, c1 = max(col, bj * b), min(col + w, (bj + 1) * b)
                v = None if valid is None else valid[r0 - row:r1 - row, c0 - col:c1 - col]
                ob = self._paste(0, bi, bj, r0 - bi * b, c0 - bj * b, hwc[r0 - row:r1 - row, c0 - col:c1 - col],
                                 v if v is None or not v.all() else None)
                if ob is not None:
                    full.append((bi, bj, ob))
        for bi, bj, ob in full:
            self._finish(0, bi, bj, ob)

    def _finish(self, level: int, bi: int, bj: int, ob: _Open) -> None:
        """Encode a full block, hand it on, and feed its halved copy to its parent (no lock held)."""
        self.emit(self.grid.id(level, bi, bj), encode_tile(ob.data, self.codec))
        self._feed(level, bi, bj, ob.data, ob.clean)

    def _feed(self, level: int, bi: int, bj: int, data: np.ndarray, clean: bool = False) -> None:
        if level + 1 >= self.grid.n_levels:
            return
        rows, cols = self.grid.extent(level, bi, bj)
        half = halve(data[:rows, :cols], self.grid.nodata, masked=not clean)
        hb = self.grid.block // 2
        ob = self._paste(level + 1, bi // 2, bj // 2, (bi % 2) * hb, (bj % 2) * hb, half, clean=clean)
        if ob is not None:
            self._finish(level + 1, bi // 2, bj // 2, ob)

    def prefill(self) -> None:
        """Resume: feed the blocks a previous run stored into parents it did not finish (decoded
        from the store), level by level, so that every overview block gets all its children. A
        parent finished here is emitted and fed on at once, and is not in ``stored``: fed once."""
        if self.load is None:
            return
        g = self.grid
        for level in range(g.n_levels - 1):
            ny, nx = g.shapes[level]
            for bi in range(ny):
                for bj in range(nx):
                    bid = g.id(level, bi, bj)
                    if bid in self.stored and g.id(level + 1, bi // 2, bj // 2) not in self.stored:
                        data = decode_tile(self.load(bid), (g.block, g.block, g.count), self.codec)
                        self._feed(level, bi, bj, data)

    def piece_done(self, row: int, col: int, h: int, w: int) -> bool:
        """Whether every level-0 block under a piece (fine-grid window) was stored by a previous run."""
        b = self.grid.block
        return all(self.grid.id(0, bi, bj) in self.stored
                   for bi in range(row // b, (row + h - 1) // b + 1)
                   for bj in range(col // b, (col + w - 1) // b + 1))
