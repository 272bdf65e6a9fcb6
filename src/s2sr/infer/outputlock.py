"""One writer per output: an exclusive lock beside ``OUT.tif`` held for the whole run.

Two ``apply`` runs writing one output would share its partial files: the second truncates the block
store under the first, and both rename a COG with undecodable blocks onto ``OUT.tif``.
:class:`OutputLock` takes ``flock(LOCK_EX | LOCK_NB)`` on ``.OUT.tif.partial.lock`` before any
partial file is read or written, and writes its PID there; a second run fails at once with one line
naming the first. The holder unlinks the file before it lets go; a run that opened the file before
that unlink and locks the dead inode notices (the path no longer names its inode) and tries again.
A killed run's lock goes with its process (the kernel drops it), so ``--resume`` works after kill -9.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from s2sr.errors import OutputError
from s2sr.io.atomic import disk_error


def lock_path(dst: Path) -> Path:
    return dst.with_name(f".{dst.name}.partial.lock")


class OutputLock:
    """``acquire()`` or a one-line OutputError; ``release()`` (idempotent)."""

    def __init__(self, dst: Path) -> None:
        self.dst, self.path, self.fd = dst, lock_path(dst), -1

    def acquire(self) -> OutputLock:
        for _ in range(5):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as e:
                raise disk_error(self.dst, e) from e
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
                os.close(fd)
                raise OutputError(f"{self.dst}: another s2sr run (pid {holder}) is writing this output; wait for it "
                                  "to finish, or write to another path") from None
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # the holder unlinked it between our open and our lock: lock the new file
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            self.fd = fd
            return self
        raise OutputError(f"{self.dst}: could not lock {self.path} (other runs keep replacing it); try again")

    def release(self) -> None:
        if self.fd < 0:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self.fd)
            self.fd = -1
