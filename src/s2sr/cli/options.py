"""Option parsing the commands share: band lists, comma-separated numbers, ``--scale``, progress.

Parsing happens in each command's ``run`` (not as argparse ``type=``), so a bad value is one
:class:`~s2sr.errors.ConfigError` line like every other error. No heavy imports here.
"""

from __future__ import annotations

import argparse
from typing import Any

from s2sr.errors import ConfigError


def band_list(spec: str | None, option: str = "--bands") -> list[int] | None:
    """``"1,2,3,4"`` -> ``[1, 2, 3, 4]`` (None stays None: every band)."""
    if spec is None:
        return None
    try:
        return [int(b) for b in spec.replace(" ", "").split(",") if b]
    except ValueError:
        raise ConfigError(f"{option} {spec!r}: expected comma-separated band numbers like 1,2,3,4") from None


def numbers(spec: str | None, n: int, option: str, kind: type = int) -> tuple[Any, ...] | None:
    """``n`` comma-separated ``kind`` values (int or float) for ``option`` (None stays None)."""
    if spec is None:
        return None
    try:
        vals = tuple(kind(v) for v in spec.split(","))
    except ValueError:
        vals = ()
    if len(vals) != n:
        what = "integers" if kind is int else "numbers"
        raise ConfigError(f"{option} {spec!r}: expected {n} comma-separated {what}")
    return vals


def add_scale(p: argparse.ArgumentParser, default: int | None = None, required: bool = True, note: str = "") -> None:
    """``--scale``: the LR/HR pixel size ratio, checked by :func:`s2sr.grid.check_scale` (``required=False``:
    the command checks it, e.g. when one mode takes the scale from a file)."""
    extra = f" (default {default})" if default is not None else ""
    p.add_argument("--scale", required=required and default is None, default=default,
                   help=f"integer LR/HR pixel size ratio 2..8, e.g. 4{extra}{note}")


def progress(args: argparse.Namespace) -> bool:
    """Progress bars on stderr unless ``-q``."""
    return not getattr(args, "quiet", False)
