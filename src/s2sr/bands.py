"""Sentinel-2 band names: the project's default band order and the spellings files use."""

from __future__ import annotations

import re

DEFAULT_BANDS = ("B2", "B3", "B4", "B8")  # the 10 m bands: blue, green, red, near infrared
TRUE_COLOUR = ("B4", "B3", "B2")
FALSE_COLOUR = ("B8", "B4", "B3")
_ALIASES = {"BLUE": "B2", "GREEN": "B3", "RED": "B4", "NIR": "B8", "B8A": "B8A"}


def s2_name(desc: str | None) -> str | None:
    """A band description as a Sentinel-2 band name: 'B02' -> 'B2', 'red' -> 'B4', 'B8A';
    None when it is not one."""
    if not desc:
        return None
    d = desc.strip().upper()
    if d in _ALIASES:
        return _ALIASES[d]
    m = re.match(r"^B0*(\d+A?)\b", d)
    return f"B{m.group(1)}" if m else None
