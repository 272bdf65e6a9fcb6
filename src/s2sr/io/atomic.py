"""Write outputs under a temporary name and rename at the end: never a half-written result."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from s2sr.errors import DiskFullError, OutputError
from s2sr.io.stale import remove_stale_temps, temp_name


def _tmp_name(final: Path) -> Path:
    """``.NAME.tmp-HOST-PID-RANDOM``, after removing such names left by killed runs (:mod:`s2sr.io.stale`)."""
    remove_stale_temps(final)
    return temp_name(final)


def check_writable_dir(path: Path) -> None:
    if not path.name:
        raise OutputError(f"output path {str(path)!r} has no file or folder name; pass a name such as out.tif")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise OutputError(f"{path}: parent directory {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{path}: directory {parent} is not writable; choose another output path")


def check_dir_target(path: Path) -> None:
    """Like :func:`check_writable_dir`, for an output folder: a plain file in its place is refused up front."""
    check_writable_dir(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path}: exists and is not a directory; remove it or choose another output folder")


def check_not_inside(final: Path, inputs: Iterable[str | os.PathLike[str] | None]) -> None:
    """Refuse an output folder that is or holds one of ``inputs``: replacing it would delete that input."""
    from s2sr.io.guard import check_outputs

    check_outputs([final], [("input", p) for p in inputs], "choose another output folder")


def disk_error(path: Path, e: OSError) -> OutputError:
    if e.errno == errno.ENOSPC:
        return DiskFullError(f"{path}: disk full while writing; free space or write elsewhere")
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return OutputError(f"{path}: cannot write ({e.strerror}); choose a writable folder or fix its permissions")
    return OutputError(f"{path}: cannot write ({e.strerror or e}); check permissions and free space")


def make_dir(path: Path) -> None:
    """``mkdir -p path``; an unwritable parent or a full disk is a one-line OutputError."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise disk_error(path, e) from e


@contextmanager
def atomic_file(final: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; on success rename it onto ``final``."""
    final = Path(final)
    check_writable_dir(final)
    tmp = _tmp_name(final)
    try:
        yield tmp
        os.replace(tmp, final)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise disk_error(final, e) from e
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_dir(final: str | os.PathLike[str], overwrite: bool = True,
               inputs: Iterable[str | os.PathLike[str] | None] = ()) -> Iterator[Path]:
    """Yield a temporary directory beside ``final``; on success it replaces ``final``.

    On any error the temporary directory is removed and ``final`` is left untouched,
    so a failed run leaves no output directory behind. ``final`` may not hold any of ``inputs``.
    """
    final = Path(final)
    check_dir_target(final)
    if final.exists() and not overwrite:
        raise OutputError(f"{final}: already exists; remove it, choose another --out, or pass --overwrite")
    check_not_inside(final, inputs)
    tmp = _tmp_name(final)
    tmp.mkdir()
    try:
        yield tmp
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise disk_error(final, e) from e
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
