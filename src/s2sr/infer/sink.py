"""From tile results to finished pieces: weights, sums in a fixed order, output values.

Tiles arrive unweighted, in any order, from several threads (or Dask workers). A piece
inside one core is final as predicted: :func:`tile_parts` turns it into output values
(rounded, clipped, nodata) where the tile was computed. A piece in an overlap zone is
finished by the :class:`PieceSink` when all its contributing tiles have arrived: their
contributions, multiplied by their blend weights (also where the tile was computed), are
summed in row-major tile order, so the value of every output pixel is a fixed function of
deterministic tile computations (bit-identical resume, Dask equal to local). Pending
contributions are copies of the overlap strips only, so memory stays at about one row of
overlap zones. Finished pieces go to the :class:`~s2sr.infer.blocks.Pyramid`.
"""

from __future__ import annotations

import threading
from collections.abc import Container
from dataclasses import dataclass, field

import numpy as np

from s2sr import glibc
from s2sr.infer.blocks import Pyramid
from s2sr.infer.blockstore import BlockStore
from s2sr.infer.journal import Journal
from s2sr.infer.tilework import TileResult
from s2sr.infer.tiling import Tile, TilePlan
from s2sr.io.values import OutputSpec, to_output


def release_free_memory() -> None:
    """Give freed heap pages back to the OS (glibc ``malloc_trim``).

    Tile arrays are allocated on one thread and freed on another; without this, glibc
    keeps the freed pages and the RSS creeps up with the scene size.
    """
    glibc.malloc_trim()


@dataclass
class TileParts:
    """What one tile contributes: finished pieces (output values) and weighted zone contributions."""

    tile: Tile
    skipped: bool  # the tile's support was all nodata (the model did not run)
    final: list[tuple[int, np.ndarray, np.ndarray | None]]  # piece index, (C, h, w) values, fine valid
    zones: list[tuple[int, np.ndarray | None, np.ndarray]]  # piece index, weighted float32, LR valid


def finish_piece(data: np.ndarray | None, valid: np.ndarray, scale: int, count: int, spec: OutputSpec,
                 convert: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """A piece from its (summed) float values and its LR validity: with ``convert``, its output values
    (:func:`~s2sr.io.values.to_output`) and None; without, its values clipped and rounded in place
    for an integer output, and its fine-grid validity (None: all valid), for the pyramid to cast
    and mask while it pastes them (one pass less over the pixels)."""
    h, w = valid.shape[0] * scale, valid.shape[1] * scale
    fine_valid = None if valid.all() else np.repeat(np.repeat(valid, scale, axis=0), scale, axis=1)
    if data is None:
        data = np.zeros((count, h, w), np.float32)
        fine_valid = np.zeros((h, w), bool)
    if convert:
        return to_output(data, fine_valid, spec), None
    dt = np.dtype(spec.dtype)
    if np.issubdtype(dt, np.integer):
        info = np.iinfo(dt)
        np.clip(data, info.min, info.max, out=data)  # then rint: the same as rint then clip (integer bounds)
        np.rint(data, out=data)
    return data, fine_valid


def tile_parts(plan: TilePlan, spec: OutputSpec, count: int, res: TileResult,
               skip: Container[int] = (), convert: bool = True) -> TileParts:
    """Split a tile result into its pieces (those not in ``skip``), weighted or finished (see
    :func:`finish_piece` for ``convert``; without it, ``res.data`` is rounded in place)."""
    s = plan.scale
    fp = plan.support(res.tile)
    parts = TileParts(res.tile, res.data is None, [], [])
    for idx in plan.pieces_of(res.tile):
        if idx in skip:
            continue
        w = plan.pieces[idx].window()
        r0, c0 = int(w.row_off - fp.row_off), int(w.col_off - fp.col_off)
        h, wd = int(w.height), int(w.width)
        valid = res.valid[r0:r0 + h, c0:c0 + wd]
        data = None if res.data is None else res.data[:, r0 * s:(r0 + h) * s, c0 * s:(c0 + wd) * s]
        if len(plan.pieces[idx].tiles) == 1:  # blend weight 1: final as predicted
            parts.final.append((idx, *finish_piece(data, valid, s, count, spec, convert)))
            continue
        if data is not None:  # a zone: weight this tile's contribution (a new array, not a view)
            wy = plan.y.weights(res.tile[0], s)[r0 * s:(r0 + h) * s]
            wx = plan.x.weights(res.tile[1], s)[c0 * s:(c0 + wd) * s]
            data = data * np.outer(wy, wx)[None]
        parts.zones.append((idx, data, valid.copy()))
    return parts


class DonePieces:
    """Pieces a previous run finished: every output block under them is in the store."""

    def __init__(self, plan: TilePlan, pyramid: Pyramid) -> None:
        self.plan, self.pyramid = plan, pyramid
        self.any = len(pyramid.stored) > 0

    def __contains__(self, idx: object) -> bool:
        if not self.any or not isinstance(idx, int):
            return False
        w, s = self.plan.pieces[idx].window(), self.plan.scale
        return self.pyramid.piece_done(int(w.row_off) * s, int(w.col_off) * s, int(w.height) * s, int(w.width) * s)


@dataclass
class PieceSink:
    """Receives tile results (thread-safe) and hands finished pieces to the pyramid."""

    plan: TilePlan
    spec: OutputSpec
    count: int  # bands
    pyramid: Pyramid
    store: BlockStore
    journal: Journal
    done: Container[int] = frozenset()  # pieces finished by a previous run
    pending: dict[int, dict[Tile, tuple[np.ndarray | None, np.ndarray]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, res: TileResult) -> TileParts:
        """Split ``res`` into pieces here, then :meth:`add_parts`."""
        parts = tile_parts(self.plan, self.spec, self.count, res, self.done, convert=False)
        self.add_parts(parts)
        return parts

    def add_parts(self, parts: TileParts) -> None:
        s = self.plan.scale
        for idx, values, valid in parts.final:
            if idx not in self.done:
                w = self.plan.pieces[idx].window()
                self.pyramid.put(int(w.row_off) * s, int(w.col_off) * s, values, valid)
        for idx, data, valid in parts.zones:
            if idx in self.done:
                continue
            with self.lock:
                got = self.pending.setdefault(idx, {})
                got[parts.tile] = (data, valid)
                if len(got) < len(self.plan.pieces[idx].tiles):
                    continue
                del self.pending[idx]
            self._finish(idx, got)
        if self.store.maybe_sync(self.journal):
            release_free_memory()

    def _finish(self, idx: int, got: dict[Tile, tuple[np.ndarray | None, np.ndarray]]) -> None:
        total: np.ndarray | None = None
        for t in sorted(got):
            d = got[t][0]
            if d is not None:
                total = d if total is None else total + d
        w, s = self.plan.pieces[idx].window(), self.plan.scale
        values, valid = finish_piece(total, got[min(got)][1], s, self.count, self.spec, convert=False)
        self.pyramid.put(int(w.row_off) * s, int(w.col_off) * s, values, valid)

    def sync(self) -> None:
        """fsync the blocks written so far, then journal them."""
        self.store.sync(self.journal)
        release_free_memory()
