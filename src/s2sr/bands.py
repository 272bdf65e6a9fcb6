"""Sentinel-2 band names: the project's default band order and the spellings files use."""

from __future__ import annotations

import re

DEFAULT_BANDS = ("B2", "B3", "B4", "B8")  # the 10 m bands: blue, green, red, near infrared
TRUE_COLOUR = ("B4", "B3", "B2")
FALSE_COLOUR = ("B8", "B4", "B3")
_ALIASES = {"BLUE": "B2", "GREEN": "B3", "RED": "B4", "NIR": "B8", "B8A": "B8A"}
# MSI band ids of the product metadata (MTD_MSIL1C/2A.xml band_id="N") in band name order
MSI_BAND_IDS = {"B1": 0, "B2": 1, "B3": 2, "B4": 3, "B5": 4, "B6": 5, "B7": 6, "B8": 7, "B8A": 8, "B9": 9,
                "B10": 10, "B11": 11, "B12": 12}
# colour interpretation GIS tools use for the true-colour bands (others: undefined)
COLOUR_OF = {"B4": "red", "B3": "green", "B2": "blue"}
_FILE_TOKEN = re.compile(r"(?:^|[_\-.\s])(B0?\d{1,2}A?|BLUE|GREEN|RED|NIR)(?=$|[_\-.\s])", re.IGNORECASE)


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


def band_in_filename(name: str) -> str | None:
    """The one Sentinel-2 band a file name speaks of: 'T31UDQ_20200101T105031_B02_10m.jp2' -> 'B2',
    'blue.tif' -> 'B2', 'B8A.tif' -> 'B8A'; None when it names none, or more than one."""
    stem = name.rsplit(".", 1)[0] if "." in name else name
    found = {s2_name(m.group(1)) for m in _FILE_TOKEN.finditer(stem)}
    found.discard(None)
    return found.pop() if len(found) == 1 else None


def colour_interp(names: list[str] | tuple[str, ...]) -> list[str]:
    """GDAL colour interpretation per band: red/green/blue for B4/B3/B2, 'undefined' otherwise."""
    return [COLOUR_OF.get(s2_name(n) or "", "undefined") for n in names]
