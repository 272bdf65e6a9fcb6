"""Sentinel-2 ``.SAFE`` products (L1C and L2A): the 10 m band files and the product metadata.

Layouts (one granule per product, as ESA has delivered since December 2016)::

    S2A_MSIL1C_..._T33UUB_....SAFE/MTD_MSIL1C.xml
        GRANULE/L1C_T33UUB_.../IMG_DATA/T33UUB_20170527T102031_B02.jp2
    S2B_MSIL2A_..._T31UDQ_....SAFE/MTD_MSIL2A.xml
        GRANULE/L2A_T31UDQ_.../IMG_DATA/R10m/T31UDQ_20220301T105031_B02_10m.jp2

The band files are found by name (``_B02``, ``_B02_10m``); the metadata give the tags
(SENSOR, LEVEL, DATATAKE, PRODUCT, PROCESSING_BASELINE, SENSING_TIME, CLOUD_COVER) and the
radiometric offsets (``RADIO_ADD_OFFSET`` / ``BOA_ADD_OFFSET``, baseline >= 04.00).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from s2sr.bands import MSI_BAND_IDS, band_in_filename
from s2sr.errors import InputError
from s2sr.io.s2meta import ProductInfo, level_of

RASTER_SUFFIXES = (".jp2", ".tif", ".tiff")


def is_safe(path: Path) -> bool:
    """A folder that looks like a Sentinel-2 product: ``*.SAFE`` or holding ``MTD_MSIL1C/2A.xml``."""
    return path.is_dir() and (path.suffix.upper() == ".SAFE" or bool(_metadata_files(path)))


def _metadata_files(path: Path) -> list[Path]:
    return sorted(p for p in path.glob("MTD_MSIL*.xml") if p.is_file())


def safe_band_files(path: Path, want: list[str]) -> dict[str, Path]:
    """The 10 m band files of a SAFE product for the band names ``want`` (e.g. B2, B3, B4, B8)."""
    granules = sorted(p for p in (path / "GRANULE").glob("*") if (p / "IMG_DATA").is_dir())
    if not granules:
        raise InputError(f"{path}: Sentinel-2 product without GRANULE/*/IMG_DATA; pass a complete .SAFE "
                         "folder (unzipped), or a folder of band files")
    if len(granules) > 1:
        raise InputError(f"{path}: holds {len(granules)} granules ({', '.join(g.name for g in granules[:3])}...); "
                         f"pass one granule's image folder, e.g. {granules[0] / 'IMG_DATA'}")
    img = granules[0] / "IMG_DATA"
    folder = img / "R10m" if (img / "R10m").is_dir() else img  # L2A keeps its 10 m bands in R10m
    found: dict[str, list[Path]] = {}
    for f in sorted(folder.iterdir()):
        if f.suffix.lower() in RASTER_SUFFIXES and not f.name.startswith("."):
            name = band_in_filename(f.name)
            if name is not None:
                found.setdefault(name, []).append(f)
    missing = [b for b in want if b not in found]
    if missing:
        raise InputError(f"{path}: no {', '.join(missing)} band file in {folder} (found: "
                         f"{', '.join(sorted(found)) or 'none'}); pass a complete product")
    for b in want:
        if len(found[b]) > 1:
            raise InputError(f"{folder}: {len(found[b])} files for {b} ({', '.join(f.name for f in found[b])}); "
                             "keep one per band")
    return {b: found[b][0] for b in want}


def safe_product_info(path: Path, want: list[str], apply_offset: bool = True) -> ProductInfo:
    """Tags and offsets from ``MTD_MSIL1C.xml`` / ``MTD_MSIL2A.xml`` (absent: tags from the folder name)."""
    mtd = _metadata_files(path)
    if not mtd:
        return ProductInfo({"PRODUCT": path.name, **_level_tag(path.name)}, {}, "none (no MTD_MSIL*.xml)")
    try:
        root = ET.parse(mtd[0]).getroot()
    except ET.ParseError as e:
        raise InputError(f"{mtd[0]}: not readable XML ({e}); re-download or unzip the product again") from None
    text = {_local(el.tag): (el.text or "").strip() for el in root.iter() if el.text and el.text.strip()}
    dt = next((el.get("datatakeIdentifier") for el in root.iter() if _local(el.tag) == "Datatake"), None)
    tags = {
        "SENSOR": f"{text['SPACECRAFT_NAME']} MSI" if "SPACECRAFT_NAME" in text else None,
        "LEVEL": level_of(text.get("PRODUCT_TYPE")) or level_of(text.get("PROCESSING_LEVEL")) or level_of(mtd[0].name),
        "DATATAKE": dt,
        "PRODUCT": text.get("PRODUCT_URI") or path.name,
        "PROCESSING_BASELINE": text.get("PROCESSING_BASELINE"),
        "SENSING_TIME": text.get("PRODUCT_START_TIME") or text.get("DATATAKE_SENSING_START"),
        "CLOUD_COVER": text.get("Cloud_Coverage_Assessment") or text.get("CLOUDY_PIXEL_PERCENTAGE"),
    }
    declared = _declared_offsets(root)
    offsets = {b: declared[MSI_BAND_IDS[b]] for b in want if MSI_BAND_IDS.get(b) in declared and declared[MSI_BAND_IDS[b]]}
    if not apply_offset:
        note = "none (--offset none)" if offsets else "none (no offset in the product metadata)"
        offsets = {}
    elif offsets:
        kind = "BOA_ADD_OFFSET" if any(_local(e.tag) == "BOA_ADD_OFFSET" for e in root.iter()) else "RADIO_ADD_OFFSET"
        note = f"{sorted(set(offsets.values()))[0]} ({kind} of {mtd[0].name})"
    else:
        note = "none (no offset in the product metadata: baseline < 04.00)"
    return ProductInfo({k: v for k, v in tags.items() if v}, offsets, note)


def _declared_offsets(root: ET.Element) -> dict[int, int]:
    out: dict[int, int] = {}
    for el in root.iter():
        if _local(el.tag) in ("BOA_ADD_OFFSET", "RADIO_ADD_OFFSET") and el.get("band_id") is not None:
            try:
                out[int(el.get("band_id", "-1"))] = int(float((el.text or "0").strip()))
            except ValueError:
                continue
    return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _level_tag(name: str) -> dict[str, str]:
    lvl = level_of(name)
    return {"LEVEL": lvl} if lvl else {}
