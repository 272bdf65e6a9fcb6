"""The output side of one ``apply`` run: block store, journal, pyramid, and the final COG.

Beside ``OUT.tif`` a run keeps ``.OUT.tif.partial.blocks`` (the compressed blocks, see
:mod:`s2sr.infer.blockstore`) and ``.OUT.tif.partial.jsonl`` (the resume journal). When
every block of every level is stored, :meth:`RunOutput.assemble` copies them into the COG
layout under a temporary name and renames it onto ``OUT.tif``; the side files are then
removed.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from s2sr.errors import ConfigError, OutputError
from s2sr.infer.blocks import BlockGrid, Pyramid, piece_counts
from s2sr.infer.blockstore import BlockStore
from s2sr.infer.journal import Journal
from s2sr.infer.outputlock import OutputLock
from s2sr.infer.sink import DonePieces, PieceSink
from s2sr.infer.tiling import TilePlan
from s2sr.io import cogblocks
from s2sr.io.atomic import atomic_file
from s2sr.io.coglayout import CogLayout
from s2sr.io.tiffcodec import BlockDecodeError, decode_tile
from s2sr.io.values import OutputSpec

log = logging.getLogger(__name__)


def side_files(dst: Path) -> tuple[Path, Path]:
    """The block store and its resume journal, hidden beside ``dst``."""
    return dst.with_name(f".{dst.name}.partial.blocks"), dst.with_name(f".{dst.name}.partial.jsonl")


def input_vrt(dst: Path) -> Path:
    """Where a multi-file input's VRT goes: beside the output (Dask workers read it too), removed at the end."""
    return dst.with_name(f".{dst.name}.input.vrt")


class RunOutput:
    """Block store, journal and pyramid of one run writing ``dst``."""

    def __init__(self, dst: Path, plan: TilePlan, spec: OutputSpec, count: int, layout: CogLayout,
                 header: dict[str, Any], meta: dict[str, Any]) -> None:
        self.dst, self.plan, self.spec, self.count, self.meta = dst, plan, spec, count, meta
        self.layout, self.codec = layout, layout.codec(spec.dtype)
        self.part, self.jpath = side_files(dst)
        out_w, out_h = plan.out_size
        self.grid = BlockGrid(out_w, out_h, count, spec.dtype, spec.nodata, layout.block, layout.overviews)
        self.journal = Journal(self.jpath, {**header, "block": self.grid.block, "levels": self.grid.n_levels,
                                            "compress": self.codec.compress, "level": self.codec.level}, dst)
        self.store = BlockStore(self.part, self.grid.n_blocks, report_as=dst)
        self.resumed = False
        self.lock = OutputLock(dst)

    def load(self, resume: bool) -> bool:
        """Lock the output (one writer at a time, :mod:`s2sr.infer.outputlock`); with ``resume``: read a
        matching journal if there is one; return whether this run resumes."""
        self.lock.acquire()
        self.resumed = resume and self.part.exists() and self.journal.load()
        if resume and not self.resumed:
            log.info("--resume: no partial output for %s, starting from scratch", self.dst)
        return self.resumed

    def open(self) -> PieceSink:
        """Create (or reopen) the store and journal; the sink that feeds them."""
        try:
            self.store.open(self.journal.entries if self.resumed else None)
        except OutputError as e:
            if not self.resumed:  # nothing computed yet: nothing to resume (no --resume hint), nothing left
                self.part.unlink(missing_ok=True)
                raise OutputError(str(e)) from e
            raise
        self.journal.open(fresh=not self.resumed)
        pyramid = Pyramid(self.grid, self.codec, piece_counts(self.plan, self.grid), self.store.append,
                          self.store.previous, self.store.read)
        if self.resumed:
            try:
                pyramid.prefill()
            except (BlockDecodeError, ValueError) as e:  # ValueError: a block shorter than its journal entry
                raise OutputError(f"{self.dst}: the partial output is damaged (a stored block does not decode: {e}); "
                                  "rerun without --resume") from None
        self.pyramid = pyramid
        return PieceSink(self.plan, self.spec, self.count, pyramid, self.store, self.journal,
                         DonePieces(self.plan, pyramid))

    @property
    def blocks_resumed(self) -> int:
        return len(self.store.previous)

    @property
    def holds_work(self) -> bool:
        """Whether ``--resume`` would reuse anything: blocks journaled by this run or an earlier one."""
        return self.blocks_resumed > 0 or self.journal.recorded > 0

    def close(self) -> None:
        try:
            self.store.close()
            self.journal.close()
        finally:
            self.lock.release()

    def remove(self) -> None:
        for p in (self.part, self.jpath):
            p.unlink(missing_ok=True)

    def assemble(self) -> int:
        """Write the COG from the stored blocks (atomically; the store still open); returns its size."""
        missing = self.store.missing()
        if missing:
            raise RuntimeError(f"{self.dst}: {len(missing)} of {self.grid.n_blocks} output blocks were never "
                               f"finished (first: {self.grid.locate(missing[0])}); this is a bug, please report it")
        g = self.grid
        levels = [cogblocks.Level(w, h, self.store.lengths[g.first[k]:g.first[k] + ny * nx].reshape(ny, nx))
                  for k, ((w, h), (ny, nx)) in enumerate(zip(g.sizes, g.shapes, strict=True))]
        tmpl = cogblocks.template_tags({**self.meta, "nodata": self.spec.nodata}, self.count, self.spec.dtype)
        shape = (g.block, g.block, self.count)

        def checked(k: int, i: int) -> bytes:
            """A stored block, decoded before it is written: a damaged store never becomes a COG."""
            try:
                data = self.store.read(g.first[k] + i)
                decode_tile(data, shape, self.codec)
            except (BlockDecodeError, ValueError) as e:  # ValueError: a block shorter than its journal entry
                raise OutputError(f"{self.dst}: block {i} of level {k} in the partial output does not decode ({e}); "
                                  "the store was damaged (by another process or the disk); rerun without --resume") from None
            return data

        try:
            with atomic_file(self.dst) as tmp, open(tmp, "wb") as fh:
                return cogblocks.write_layout(fh, levels, tmpl, self.codec, checked, g.block, self.layout.bigtiff)
        except ConfigError as e:  # BIGTIFF=NO for a file that needs BigTIFF
            raise ConfigError(f"{self.dst}: {e}") from None
