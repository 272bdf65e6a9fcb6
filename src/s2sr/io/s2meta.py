"""What a Sentinel-2 product says about itself: level, sensor, datatake, baseline, offsets.

Since processing baseline 04.00 (products from 25 January 2022 on, and every Collection-1
reprocessing), L1C and L2A digital numbers carry an offset: reflectance =
(DN + offset) / 10000 with ``RADIO_ADD_OFFSET`` (L1C) or ``BOA_ADD_OFFSET`` (L2A) = -1000,
DN 0 staying nodata. s2sr harmonises such data to the older scale (DN + offset, valid
pixels kept >= 1), so that models trained on either see one scale. The offset is read
from the product metadata (``MTD_MSIL1C.xml`` / ``MTD_MSIL2A.xml``) or, for STAC items,
decided from ``s2:processing_baseline`` and Earth Search's ``earthsearch:boa_offset_applied``
(see docs/fetch.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from s2sr.errors import ConfigError

log = logging.getLogger(__name__)

OFFSET_BASELINE = 4.0  # first processing baseline with the -1000 offset
DEFAULT_OFFSET = -1000
OFFSET_CHOICES = ("auto", "none")  # or an integer, e.g. -1000


@dataclass(frozen=True)
class ProductInfo:
    """Tags describing a Sentinel-2 product, and the offset to add to its DNs (per band name)."""

    tags: dict[str, str] = field(default_factory=dict)  # SENSOR, LEVEL, DATATAKE, PRODUCT, ...
    offsets: dict[str, int] = field(default_factory=dict)  # band name -> offset to add, e.g. {"B2": -1000}
    offset_note: str = ""  # why that offset (logged and written to the tags)


def parse_offset_option(spec: str | int | None) -> str | int:
    """``--offset auto | none | N`` (N an integer such as -1000)."""
    if spec is None:
        return "auto"
    if isinstance(spec, int):
        return spec
    s = str(spec).strip().lower()
    if s in OFFSET_CHOICES:
        return s
    try:
        return int(s)
    except ValueError:
        raise ConfigError(f"--offset {spec!r}: choose auto, none, or an integer DN offset such as -1000") from None


def baseline_number(value: Any) -> float | None:
    """``"04.00"`` / ``"N0400"`` / 4.0 -> 4.0; None when absent or unreadable."""
    if value in (None, ""):
        return None
    s = str(value).strip().upper().removeprefix("N")
    try:
        return float(s) if "." in s else float(s) / 100.0 if len(s) == 4 else float(s)
    except ValueError:
        return None


def stac_offsets(props: dict[str, Any], bands: list[str], choice: str | int = "auto") -> tuple[dict[str, int], str]:
    """Offsets for a STAC item's bands, and why: ``choice`` auto (from the item's properties), none, or N."""
    if choice == "none":
        return {}, "none (--offset none)"
    if isinstance(choice, int):
        return {b: choice for b in bands}, f"{choice} (--offset {choice})"
    applied = props.get("earthsearch:boa_offset_applied")
    base = baseline_number(props.get("s2:processing_baseline") or props.get("sentinel:processing_baseline"))
    if applied is True:
        return {}, "none (earthsearch:boa_offset_applied is true: the provider removed it)"
    if base is None:
        return {}, "none (the item gives no s2:processing_baseline; pass --offset -1000 if it is >= 04.00)"
    if base >= OFFSET_BASELINE:
        return ({b: DEFAULT_OFFSET for b in bands},
                f"{DEFAULT_OFFSET} (processing baseline {base:05.2f} >= 04.00, offset not applied by the provider)")
    return {}, f"none (processing baseline {base:05.2f} < 04.00)"


def level_of(text: str | None) -> str | None:
    """'S2MSI2A' / 'Level-2A' / 'sentinel-2-l2a' -> 'L2A' (also L1C); None when neither."""
    t = (text or "").upper().replace("-", "").replace("_", "")
    for lvl in ("L2A", "L1C"):
        if lvl in t or f"MSI{lvl[1:]}" in t or f"LEVEL{lvl[1:]}" in t:
            return lvl
    return None


def stac_tags(item_id: str, collection: str | None, props: dict[str, Any]) -> dict[str, str]:
    """Source tags of a STAC item (the names ``s2sr apply`` copies to its output)."""
    platform = props.get("platform")
    tags = {
        "STAC_ITEM": item_id,
        "STAC_COLLECTION": collection,
        "SENSOR": f"{str(platform).capitalize()} MSI" if platform else None,
        "LEVEL": level_of(props.get("s2:product_type")) or level_of(collection),
        "DATATAKE": props.get("s2:datatake_id"),
        "PRODUCT": props.get("s2:product_uri"),
        "PROCESSING_BASELINE": props.get("s2:processing_baseline"),
        "SENSING_TIME": props.get("datetime"),
        "CLOUD_COVER": props.get("eo:cloud_cover"),
        "MGRS_TILE": props.get("s2:mgrs_tile") or _mgrs(props),
    }
    return {k: str(v) for k, v in tags.items() if v not in (None, "")}


def _mgrs(props: dict[str, Any]) -> str | None:
    parts = [props.get(k) for k in ("mgrs:utm_zone", "mgrs:latitude_band", "mgrs:grid_square")]
    return "".join(str(p) for p in parts) if all(p not in (None, "") for p in parts) else None


COPERNICUS = "Contains modified Copernicus Sentinel data"


def attribution(tags: dict[str, str]) -> str:
    """What a map must say about a raster's data: its ``ATTRIBUTION`` tag when it has one (s2sr synth,
    the embedded samples, s2sr fetch and apply outputs do), else the Copernicus notice when its tags
    name a Sentinel product, else nothing (s2sr does not guess where data come from)."""
    if tags.get("ATTRIBUTION"):
        return tags["ATTRIBUTION"]
    said = " ".join(tags.get(k, "") for k in ("SENSOR", "PRODUCT", "STAC_COLLECTION", "DATATAKE")).upper()
    if "SENTINEL" in said or said.startswith("S2") or " S2" in said:
        year = (tags.get("SENSING_TIME") or "")[:4]
        return f"{COPERNICUS} {year}".strip() if year.isdigit() else COPERNICUS
    return ""
