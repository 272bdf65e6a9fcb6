"""GDAL write failures as one-line errors, and libtiff's own stderr lines kept off the terminal.

libtiff reports low-level I/O failures (``_tiffWriteProc: No space left on device``) through
its process-wide error handler, which prints them on stderr beside GDAL's own error (that
one only says ``IO error writing tag data``). :func:`install_tiff_handler` routes them to
the ``s2sr`` debug log instead and keeps the last few, so :func:`gdal_writing` can tell a
full disk from other failures and name the file and the fix in one line.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from s2sr.errors import DiskFullError, OutputError, S2SRError
from s2sr.io.native import rasterio_library

log = logging.getLogger(__name__)

_HANDLER_T = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p)
_lock = threading.Lock()
_recent: deque[tuple[int, str]] = deque(maxlen=64)
_state: dict[str, object] = {"seq": 0, "handler": None, "tried": False}
NO_SPACE = os.strerror(28)  # ENOSPC: "No space left on device"


def _format(fmt: bytes | None, ap: int | None) -> str:
    libc = ctypes.CDLL(None)
    buf = ctypes.create_string_buffer(512)
    libc.vsnprintf.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p]
    libc.vsnprintf(buf, len(buf), fmt or b"", ap)
    return buf.value.decode("utf-8", "replace")


def _on_tiff_error(module: bytes | None, fmt: bytes | None, ap: int | None) -> None:
    msg = f"{(module or b'libtiff').decode('utf-8', 'replace')}: {_format(fmt, ap)}"
    with _lock:
        seq = int(_state["seq"]) + 1  # type: ignore[call-overload]
        _state["seq"] = seq
        _recent.append((seq, msg))
    log.debug("libtiff: %s", msg)


def install_tiff_handler() -> None:
    """Route libtiff's process-wide error messages to the debug log (once per process)."""
    with _lock:
        if _state["tried"]:
            return
        _state["tried"] = True
    lib = rasterio_library("tiff")
    if lib is None or not hasattr(lib, "TIFFSetErrorHandler"):
        return
    handler = _HANDLER_T(_on_tiff_error)
    _state["handler"] = handler  # keep the callback alive for the life of the process
    lib.TIFFSetErrorHandler.restype = ctypes.c_void_p
    lib.TIFFSetErrorHandler.argtypes = [_HANDLER_T]
    lib.TIFFSetErrorHandler(handler)


def messages_since(seq: int) -> list[str]:
    """libtiff messages recorded after sequence number ``seq``."""
    with _lock:
        return [m for s, m in _recent if s > seq]


def current_seq() -> int:
    with _lock:
        return int(_state["seq"])  # type: ignore[call-overload]


def write_error(path: Path, err: BaseException, details: list[str]) -> OutputError:
    """A one-line error for a failed GDAL write of ``path`` (disk full recognised from ``details``)."""
    first = (str(err).splitlines() or [type(err).__name__])[0][:160]
    text = " ".join(details + [first])
    if NO_SPACE in text or "disk full" in text.lower():
        return DiskFullError(f"{path}: disk full while writing; free space or write elsewhere")
    for reason in (os.strerror(13), os.strerror(30)):  # EACCES, EROFS
        if reason in text:
            return OutputError(f"{path}: cannot write ({reason}); choose a writable folder")
    return OutputError(f"{path}: GDAL could not write it ({first}); check free space and permissions")


class _Held(logging.Filter):
    """Holds rasterio's log records (GDAL warnings) back while a write is under way."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        self.records.append(record)
        return False


@contextmanager
def _held_gdal_logs() -> Iterator[_Held]:
    held = _Held()
    loggers = [logging.getLogger(n) for n in list(logging.root.manager.loggerDict) if n.split(".")[0] == "rasterio"]
    for lg in loggers:
        lg.addFilter(held)
    try:
        yield held
    finally:
        for lg in loggers:
            lg.removeFilter(held)


@contextmanager
def gdal_writing(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn a failure of GDAL while writing ``path`` inside the block into a one-line OutputError.

    GDAL's warnings logged meanwhile (through rasterio's loggers) are passed on when the write
    succeeds; when it fails they only go to the debug log, after the one line that matters.
    """
    install_tiff_handler()
    start = current_seq()
    with _held_gdal_logs() as held:
        try:
            yield
        except S2SRError:
            raise
        except Exception as e:  # rasterio raises RasterioIOError, CPLE_* errors and more for one failed write
            for r in held.records:
                log.debug("GDAL while writing %s: %s", path, r.getMessage())
            raise write_error(Path(path), e, messages_since(start)) from e
    for r in held.records:
        logging.getLogger(r.name).handle(r)
