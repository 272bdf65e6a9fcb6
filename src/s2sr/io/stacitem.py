"""STAC items: which asset holds which Sentinel-2 band, and where GDAL reads it.

An asset is matched to a band name (B2, B3, B4, B8) by, in order: the asset keys given
explicitly (``--assets blue,green,red,nir``), its key (Earth Search: ``blue``, ``green``,
``red``, ``nir``; Planetary Computer: ``B02``...), or its ``eo:bands`` / ``bands`` name or
common name. GeoTIFF assets win over JPEG 2000 copies of the same band. Relative hrefs are
resolved against the item's location; ``http(s)://`` becomes ``/vsicurl/``, ``s3://`` ``/vsis3/``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from s2sr.bands import s2_name
from s2sr.errors import ConfigError, InputError

if TYPE_CHECKING:  # pragma: no cover
    import pystac

log = logging.getLogger(__name__)

EARTH_SEARCH_KEYS = ("blue", "green", "red", "nir")  # B2, B3, B4, B8 in Earth Search's sentinel-2-l2a


def parse_asset_keys(spec: str | Sequence[str] | None, want: Sequence[str]) -> dict[str, str] | None:
    """``"blue,green,red,nir"`` -> {B2: blue, ...} in the order of ``want``; None: match by name."""
    if spec is None:
        return None
    keys = [k.strip() for k in (spec.split(",") if isinstance(spec, str) else spec) if k.strip()]
    if len(keys) != len(want):
        raise ConfigError(f"--assets {','.join(keys)!r}: give {len(want)} asset keys, one per band "
                          f"{','.join(want)} in that order, e.g. --assets {','.join(EARTH_SEARCH_KEYS)}")
    return dict(zip(want, keys, strict=True))


def is_item_json(src: str) -> bool:
    """A path or URL ending in ``.json`` (a STAC item; checked when read)."""
    return src.lower().split("?", 1)[0].endswith(".json")


def read_item(src: str) -> pystac.Item:
    """A STAC item from a local file or a URL, with one-line errors."""
    import pystac

    if "://" not in src and not Path(src).is_file():
        raise InputError(f"{src}: file not found; check the path of the STAC item")
    try:
        obj = pystac.read_file(src)
    except (OSError, ValueError, KeyError, pystac.STACError) as e:
        raise InputError(f"{src}: not a readable STAC item ({_first_line(e)}); pass an item JSON "
                         "(type Feature) or a GeoTIFF") from None
    if not isinstance(obj, pystac.Item):
        raise InputError(f"{src}: is a STAC {type(obj).__name__}, not an item; pass one item's JSON, or "
                         "search a catalog with s2sr fetch")
    return obj


def item_band_hrefs(item: pystac.Item, want: Sequence[str], keys: dict[str, str] | None = None) -> dict[str, str]:
    """GDAL paths of the assets holding the bands ``want`` (band name -> GDAL path)."""
    assets = item.assets
    out: dict[str, str] = {}
    for band in want:
        key = keys[band] if keys else _match(assets, band)
        if key is None or key not in assets:
            what = f"asset {key!r}" if keys else f"asset for {band}"
            raise InputError(f"{item.id}: no {what} (assets: {', '.join(sorted(assets)) or 'none'}); pass --assets "
                             f"with the keys of {','.join(want)} in order, e.g. --assets {','.join(EARTH_SEARCH_KEYS)}")
        out[band] = gdal_path(assets[key].get_absolute_href() or assets[key].href)
    return out


def _match(assets: dict[str, pystac.Asset], band: str) -> str | None:
    by_key = [k for k in assets if s2_name(k) == band]
    by_meta = [k for k, a in assets.items() if band in _asset_band_names(a)]
    cands = by_key or by_meta
    tiff = [k for k in cands if "tiff" in (assets[k].media_type or "").lower()]
    best = tiff or cands
    return best[0] if best else None


def _asset_band_names(asset: pystac.Asset) -> set[str]:
    names: set[str] = set()
    for b in (asset.extra_fields.get("eo:bands") or []) + (asset.extra_fields.get("bands") or []):
        if isinstance(b, dict):
            for v in (b.get("name"), b.get("common_name"), b.get("eo:common_name")):
                n = s2_name(v) if isinstance(v, str) else None
                if n:
                    names.add(n)
    return names


def gdal_path(href: str) -> str:
    """A GDAL path for an asset href: local path, ``/vsicurl/`` for http(s), ``/vsis3/`` for s3."""
    if href.startswith(("http://", "https://")):
        return f"/vsicurl/{href}"
    if href.startswith("s3://"):
        return f"/vsis3/{href[5:]}"
    if href.startswith("file://"):
        return href[7:]
    return href


def item_properties(item: pystac.Item) -> dict[str, Any]:
    props = dict(item.properties)
    if item.datetime is not None:
        props["datetime"] = item.datetime.isoformat()
    return props


def _first_line(e: BaseException) -> str:
    return (str(e).splitlines() or [type(e).__name__])[0]
