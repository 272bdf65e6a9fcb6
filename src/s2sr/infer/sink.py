"""The single writer: gathers tile results into pieces, finalises and writes each piece once.

Tiles arrive unweighted; a piece inside one core is written as predicted, and a
piece in an overlap zone is written when all its contributing tiles have arrived:
their contributions, multiplied by their blend weights, are summed in row-major
tile order, so the value of every output pixel is a fixed function of
deterministic tile computations (bit-identical resume, Dask equal to
local). Pending contributions are copies of the overlap strips only, so memory
stays at about one row of overlap zones.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from s2sr.infer.journal import Journal
from s2sr.infer.scratch import TiledScratch
from s2sr.infer.tilework import TileResult
from s2sr.infer.tiling import Tile, TilePlan
from s2sr.io.values import OutputSpec, to_output

log = logging.getLogger(__name__)


def _libc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    return getattr(libc, "malloc_trim", None)


_TRIM = _libc_trim()


def release_free_memory() -> None:
    """Give freed heap pages back to the OS (glibc ``malloc_trim``).

    Tile arrays are allocated on one thread and freed on another; without this, glibc
    keeps the freed pages and the RSS creeps up with the scene size.
    """
    if _TRIM is not None:
        _TRIM(0)


@dataclass
class PieceSink:
    """Receives :class:`TileResult` s in any order and writes finished pieces."""

    plan: TilePlan
    scratch: TiledScratch
    journal: Journal
    spec: OutputSpec
    sync_every_s: float = 0.25
    pending: dict[int, dict[Tile, tuple[np.ndarray | None, np.ndarray]]] = field(default_factory=dict)
    unsynced: list[int] = field(default_factory=list)
    written: int = 0
    _last_sync: float = field(default_factory=time.monotonic)

    def add(self, res: TileResult) -> None:
        plan, s = self.plan, self.scale
        fp = plan.support(res.tile)
        for idx in plan.pieces_of(res.tile):
            if idx in self.journal.done or idx in self.unsynced:
                continue
            piece = plan.pieces[idx]
            w = piece.window()
            r0, c0 = int(w.row_off - fp.row_off), int(w.col_off - fp.col_off)
            h, wd = int(w.height), int(w.width)
            valid = res.valid[r0:r0 + h, c0:c0 + wd]
            data = None if res.data is None else res.data[:, r0 * s:(r0 + h) * s, c0 * s:(c0 + wd) * s]
            if len(piece.tiles) == 1:  # blend weight 1: written as predicted
                self._write(idx, data, valid)
                continue
            if data is not None:  # a zone: weight this tile's contribution (a new array, not a view)
                wy = plan.y.weights(res.tile[0], s)[r0 * s:(r0 + h) * s]
                wx = plan.x.weights(res.tile[1], s)[c0 * s:(c0 + wd) * s]
                data = data * np.outer(wy, wx)[None]
            got = self.pending.setdefault(idx, {})
            got[res.tile] = (data, valid.copy())
            if len(got) == len(piece.tiles):
                del self.pending[idx]
                self._finish(idx, got)
        if time.monotonic() - self._last_sync >= self.sync_every_s:
            self.sync()

    @property
    def scale(self) -> int:
        return self.plan.scale

    def _finish(self, idx: int, got: dict[Tile, tuple[np.ndarray | None, np.ndarray]]) -> None:
        total: np.ndarray | None = None
        for t in sorted(got):
            d = got[t][0]
            if d is not None:
                total = d if total is None else total + d
        valid = got[min(got)][1]
        self._write(idx, total, valid)

    def _write(self, idx: int, data: np.ndarray | None, valid: np.ndarray) -> None:
        s = self.scale
        w = self.plan.pieces[idx].window()
        h, wd = int(w.height) * s, int(w.width) * s
        fine_valid = None if valid.all() else np.repeat(np.repeat(valid, s, axis=0), s, axis=1)
        if data is None:
            data = np.zeros((self.scratch.count, h, wd), np.float32)
            fine_valid = np.zeros((h, wd), bool)
        self.scratch.write(int(w.row_off) * s, int(w.col_off) * s, to_output(data, fine_valid, self.spec))
        self.unsynced.append(idx)
        self.written += 1

    def sync(self) -> None:
        """fsync written pixels, then journal them."""
        if self.unsynced:
            self.scratch.sync()
            self.journal.record(self.unsynced)
            self.unsynced = []
        release_free_memory()
        self._last_sync = time.monotonic()
