"""The partial output: compressed blocks appended to one file as they finish, in any order.

``.OUT.tif.partial.blocks`` holds the encoded tiles of the output COG (full resolution and
overviews) back to back; a table (block id -> offset, length) is kept in memory and, once
the bytes are fsynced, in the resume journal. So the scratch space is the compressed size
of the COG, and the COG is assembled by copying these bytes (:mod:`s2sr.io.cogblocks`),
never by encoding pixels again. Writes use ``os.pwrite`` at the end of the file under a
lock: pages of the store never count in the process RSS.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from s2sr.errors import OutputError
from s2sr.infer.journal import Entry, Journal, PieceSet
from s2sr.io.atomic import disk_error


@dataclass
class BlockStore:
    """Append-only file of compressed blocks, ``n_blocks`` ids in all."""

    path: Path
    n_blocks: int
    report_as: Path = field(default_factory=lambda: Path("."))  # the user's output, named in errors
    sync_every_s: float = 0.25
    fd: int = -1
    end: int = 0
    offsets: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    lengths: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    previous: PieceSet = field(default_factory=lambda: PieceSet(0))  # blocks stored by earlier runs
    unsynced: list[Entry] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _sync_lock: threading.Lock = field(default_factory=threading.Lock)
    _last_sync: float = field(default_factory=time.monotonic)

    def open(self, entries: list[Entry] | None) -> BlockStore:
        """Create the store (``entries`` None) or reopen it with the journal's ``entries`` (resume):
        bytes after the last journaled block (written but never journaled) are cut off."""
        self.offsets = np.full(self.n_blocks, -1, np.int64)
        self.lengths = np.zeros(self.n_blocks, np.int64)
        self.previous = PieceSet(self.n_blocks)
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | (0 if entries is not None else os.O_TRUNC), 0o644)
            for bid, off, n in entries or ():
                if 0 <= bid < self.n_blocks:
                    self.offsets[bid], self.lengths[bid] = off, n
                    self.previous.add(bid)
                    self.end = max(self.end, off + n)
            short = os.fstat(self.fd).st_size < self.end
            if not short:
                os.ftruncate(self.fd, self.end)
        except OSError as e:
            raise disk_error(self.report_as, e) from e
        if short:
            raise OutputError(f"{self.path}: partial output of {self.report_as} is shorter than its journal; "
                              "rerun without --resume")
        return self

    def append(self, bid: int, data: bytes) -> None:
        """Write one encoded block at the end of the store."""
        with self._lock:
            off = self.end
            self.end += len(data)
            self.offsets[bid], self.lengths[bid] = off, len(data)
        try:
            done = 0
            while done < len(data):  # a write that fills the disk can return short: the rest then fails
                n = os.pwrite(self.fd, memoryview(data)[done:], off + done)
                if n <= 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                done += n
        except OSError as e:
            raise disk_error(self.report_as, e) from e
        with self._lock:
            self.unsynced.append((bid, off, len(data)))

    def maybe_sync(self, journal: Journal) -> bool:
        """:meth:`sync` when the last one is ``sync_every_s`` old and no other thread is syncing;
        whether it did."""
        if time.monotonic() - self._last_sync >= self.sync_every_s and self._sync_lock.acquire(blocking=False):
            try:
                self._sync(journal)
            finally:
                self._sync_lock.release()
            return True
        return False

    def sync(self, journal: Journal) -> None:
        """fsync the store, then journal the blocks written since the last sync."""
        with self._sync_lock:
            self._sync(journal)

    def _sync(self, journal: Journal) -> None:
        with self._lock:
            entries, self.unsynced = self.unsynced, []
        if entries:
            try:
                os.fsync(self.fd)
            except OSError as e:
                raise disk_error(self.report_as, e) from e
            journal.record(entries)
        self._last_sync = time.monotonic()

    def read(self, bid: int) -> bytes:
        """The encoded bytes of a stored block."""
        n = int(self.lengths[bid])
        data = os.pread(self.fd, n, int(self.offsets[bid]))
        if len(data) != n:
            raise ValueError(f"{self.path}: block {bid} is truncated")
        return data

    def missing(self) -> list[int]:
        return [int(i) for i in np.flatnonzero(self.offsets < 0)]

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
