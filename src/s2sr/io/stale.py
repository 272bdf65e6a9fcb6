"""Temporary names that say who owns them, and removal of those whose owner is gone.

Outputs are written under a temporary name beside them (:mod:`s2sr.io.atomic`) and renamed at
the end. A run killed with ``kill -9`` (or by the OOM killer, or a power cut) cannot remove its
temporary: a 287 MB ``.ds.tmp-*`` folder, a 45 MB COG overview scratch file. So each temporary
name carries its owner, ``.NAME.tmp-HOST-PID-RANDOM`` (plus any suffix GDAL adds, such as
``.ovr.tmp``), and the next run writing ``NAME`` removes those whose owner no longer runs:

* same host (a name from another machine sharing the folder is never touched),
* and the process ``PID`` does not exist, or exists but started after the temporary was last
  modified (the PID was reused by an unrelated process).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)


def host_tag() -> str:
    """This machine's name, reduced to at most 16 letters and digits (no '-' or '.')."""
    return re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:16] or "host"


def owner_tag() -> str:
    """``HOST-PID`` of this process."""
    return f"{host_tag()}-{os.getpid()}"


def temp_name(final: Path) -> Path:
    """``.NAME.tmp-HOST-PID-RANDOM`` beside ``final``."""
    return final.with_name(f".{final.name}.tmp-{owner_tag()}-{uuid.uuid4().hex[:8]}")


def _pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(prefix)}(?P<host>[A-Za-z0-9]+)-(?P<pid>[0-9]+)-[0-9a-f]{{8}}(\..*)?$")


def _start_time(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), from /proc; None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22: starttime, in clock ticks since boot
        btime = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                     if line.startswith("btime "))
        return btime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def owner_gone(host: str, pid: int, mtime: float) -> bool:
    """True when the process that wrote a temporary (last modified at ``mtime``) is certainly gone."""
    if host != host_tag() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        pass
    started = _start_time(pid)
    return started is not None and started > mtime + 1.0  # the PID now belongs to a younger process


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def remove_stale(folder: Path, prefix: str) -> list[Path]:
    """Remove entries of ``folder`` named ``PREFIX + HOST-PID-RANDOM[.suffix]`` whose owner is gone."""
    pat = _pattern(prefix)
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for e in entries:
        m = pat.match(e.name)
        if m is None:
            continue
        try:
            mtime = e.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        if owner_gone(m["host"], int(m["pid"]), mtime):
            _remove(Path(e.path))
            removed.append(Path(e.path))
            log.info("removed %s, left by process %s (no longer running)", e.path, m["pid"])
    return removed


def remove_stale_temps(final: Path) -> list[Path]:
    """Remove temporaries of ``final`` (``.NAME.tmp-...``) left by killed runs."""
    parent = final.parent if str(final.parent) else Path(".")
    return remove_stale(parent, f".{final.name}.tmp-")


@contextmanager
def private_temp_dir(kind: str) -> Iterator[Path]:
    """A folder ``KIND-HOST-PID-RANDOM`` in the system temp folder, removed on exit (and by the next
    run if this one is killed)."""
    base = Path(tempfile.gettempdir())
    remove_stale(base, f"{kind}-")
    d = base / f"{kind}-{owner_tag()}-{uuid.uuid4().hex[:8]}"
    d.mkdir(mode=0o700)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)
