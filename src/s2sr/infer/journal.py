"""The resume journal: JSON lines beside the block store, fsynced after the blocks they name.

Line 1 is a header with the run's fingerprint (model weights, input file, every
option that changes pixels or their encoding). Each further line lists output blocks
whose compressed bytes are already on disk in the store: ``{"blocks": [[id, offset,
length], ...]}``. ``--resume`` reopens a journal only when the fingerprint matches, so a
resumed run can only ever finish the same computation.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from s2sr.errors import OutputError
from s2sr.io.atomic import disk_error

log = logging.getLogger(__name__)


def fingerprint(obj: Any) -> str:
    """sha256 of the canonical JSON of ``obj``."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


class PieceSet:
    """A set of piece indices ``0..n-1`` as a bitmap: one bit per piece, whatever the scene size."""

    def __init__(self, n: int) -> None:
        self.n = n
        self._bits = bytearray((n + 7) // 8)
        self._count = 0

    def __contains__(self, i: object) -> bool:
        return isinstance(i, int) and 0 <= i < self.n and bool(self._bits[i >> 3] & (1 << (i & 7)))

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[int]:
        bits = np.unpackbits(np.frombuffer(bytes(self._bits), np.uint8), bitorder="little")[: self.n]
        return (int(i) for i in np.flatnonzero(bits))

    def add(self, i: int) -> None:
        if not 0 <= i < self.n:
            raise ValueError(f"piece {i} outside 0..{self.n - 1}")
        if i not in self:
            self._bits[i >> 3] |= 1 << (i & 7)
            self._count += 1

    def update(self, items: Iterable[int]) -> None:
        for i in items:
            self.add(i)

    def copy(self) -> PieceSet:
        other = PieceSet(self.n)
        other._bits[:] = self._bits
        other._count = self._count
        return other


Entry = tuple[int, int, int]  # block id, offset in the store, length in bytes


class Journal:
    """Append-only record of stored blocks for one run fingerprint."""

    def __init__(self, path: Path, header: dict[str, Any], report_as: Path) -> None:
        self.path = path
        self.header = {"kind": "s2sr-apply-journal", "fingerprint": fingerprint(header)}
        self.report_as = report_as
        self.entries: list[Entry] = []
        self.recorded = 0  # blocks journaled by this run
        self._fh: Any = None

    def load(self) -> bool:
        """Read the stored blocks if the journal exists and matches; return whether it did (line by line)."""
        if not self.path.exists():
            return False
        with open(self.path, encoding="utf-8", errors="replace") as fh:
            try:
                head = json.loads(fh.readline())
            except json.JSONDecodeError:
                return False
            if head != self.header:
                raise OutputError(
                    f"{self.path}: partial output belongs to a different run (model, input or options changed); "
                    "rerun without --resume to start over"
                )
            for line in fh:
                try:
                    entries = [(int(b), int(o), int(n)) for b, o, n in json.loads(line)["blocks"]]
                except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                    continue  # blank, or torn by a kill: those blocks are simply redone
                self.entries.extend(entries)
        return True

    def open(self, fresh: bool) -> None:
        try:
            if fresh:
                self._fh = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - held open across records
                self._fh.write(json.dumps(self.header) + "\n")
                self._sync()
            else:
                self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - held open across records
                self._fh.write("\n")  # terminate a torn line, if any; blank lines are skipped
                self._sync()
        except OSError as e:
            raise disk_error(self.report_as, e) from e

    def record(self, entries: list[Entry]) -> None:
        """Append ``entries`` (their bytes must already be fsynced) and fsync the journal."""
        if not entries:
            return
        try:
            self._fh.write(json.dumps({"blocks": [list(e) for e in entries]}) + "\n")
            self._sync()
            self.recorded += len(entries)
        except OSError as e:
            raise disk_error(self.report_as, e) from e

    def _sync(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
