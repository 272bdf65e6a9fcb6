"""An output must not be, or replace, one of the inputs: one check shared by every command that writes.

Writing goes to a temporary name renamed onto the output at the end (:mod:`s2sr.io.atomic`),
so an output path that is also an input silently replaces the input with the result, and an
output folder replaced whole deletes every input inside it. :func:`check_outputs` refuses both
before anything is written. Paths are compared after resolving symlinks, and as inodes when
both exist (a hard link is the same file under another name).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from s2sr.errors import OutputError

PathLike = str | os.PathLike[str]
# (what the input is, e.g. "input" or "model"; its path, None when not given)
Role = tuple[str, PathLike | None]


def same_file(a: PathLike, b: PathLike) -> bool:
    """True when ``a`` and ``b`` name the same file (same resolved path, or same inode)."""
    pa, pb = Path(a), Path(b)
    if pa.resolve() == pb.resolve():
        return True
    try:
        return os.path.samefile(pa, pb)
    except OSError:  # one of them does not exist (yet): different files
        return False


def contains(folder: PathLike, path: PathLike) -> bool:
    """True when ``path`` lies inside ``folder`` (after resolving both)."""
    return Path(folder).resolve() in Path(path).resolve().parents


def check_outputs(outputs: Iterable[PathLike], inputs: Iterable[Role],
                  fix: str = "choose another output path") -> None:
    """Refuse an output that is one of ``inputs`` (it would be replaced) or a folder holding one.

    Raises a one-line :class:`~s2sr.errors.OutputError` naming the output, the input and ``fix``.
    """
    roles = [(role, Path(p)) for role, p in inputs if p is not None and str(p) != ""]
    for out in outputs:
        out = Path(out)
        for role, p in roles:
            if same_file(out, p):
                which = "" if str(p) == str(out) else f" {p}"
                raise OutputError(f"{out}: output would overwrite the {role}{which}; {fix}")
            if contains(out, p):
                raise OutputError(f"{out}: holds the {role} {p}, which replacing it would delete; {fix}")
