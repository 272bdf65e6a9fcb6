"""``s2sr fetch``: the least cloudy Sentinel-2 image over a place and a time range, as a COG (parsing only)."""

from __future__ import annotations

import argparse
from typing import Any

EARTH_SEARCH = "https://earth-search.aws.element84.com/v1"  # = s2sr.fetch.search.EARTH_SEARCH (no import here)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "fetch",
        help="search a STAC catalog and write the least cloudy Sentinel-2 image over a box as a 4-band COG",
        description="Searches a STAC API (or a static catalog.json, filtered here) for items over --bbox in "
        "--datetime, picks the least cloudy one (or --all) and writes its bands B2,B3,B4,B8 cut to the box on "
        "the item's own UTM grid as a uint16 Cloud Optimized GeoTIFF; the item id and cloud cover go to its "
        "tags. Radiometric offsets of processing baseline >= 04.00 are removed (--offset). See docs/fetch.md.",
    )
    p.add_argument("out", metavar="OUT.tif", help="output COG (with --all: a folder, one ITEM_ID.tif per item)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--bbox", metavar="W,S,E,N", help="box in degrees (WGS 84 lon/lat), e.g. 2.25,48.81,2.42,48.90")
    where.add_argument("--place-geojson", metavar="FILE", help="GeoJSON (WGS 84) whose bounds are the box")
    p.add_argument("--datetime", required=True, metavar="START/END",
                   help="time range, dates or RFC 3339 times, '..' for an open end, e.g. 2023-06-01/2023-08-31")
    p.add_argument("--stac", default=EARTH_SEARCH, metavar="URL",
                   help="STAC API root, or a static catalog.json (URL or path) (default: %(default)s, Earth Search)")
    p.add_argument("--collection", default="sentinel-2-l2a",
                   help="collection id (default: %(default)s); 'any' for every collection of a static catalog")
    p.add_argument("--max-cloud", type=float, default=100.0, metavar="PERCENT",
                   help="only items with eo:cloud_cover <= this (default: %(default)s)")
    p.add_argument("--all", action="store_true", help="write every matching item into the folder OUT, least "
                   "cloudy first (existing files are kept unless --overwrite)")
    p.add_argument("--assets", metavar="KEYS", help="asset keys of B2,B3,B4,B8 in that order (default: matched "
                   "by key or eo:bands name; Earth Search: blue,green,red,nir)")
    p.add_argument("--offset", default="auto", metavar="auto|none|N",
                   help="radiometric offset to add to the DNs: auto (-1000 for processing baseline >= 04.00 "
                   "unless the provider removed it), none, or an integer (default: %(default)s)")
    p.add_argument("--compress", choices=("DEFLATE", "ZSTD"), default="DEFLATE",
                   help="COG compression (default: %(default)s)")
    p.add_argument("--co", action="append", metavar="KEY=VALUE",
                   help="GDAL COG creation option, repeatable, like rio's --co (e.g. --co LEVEL=9)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from s2sr.bands import DEFAULT_BANDS
    from s2sr.fetch.run import FetchConfig, fetch
    from s2sr.fetch.search import Query, parse_bbox, parse_interval, place_bbox
    from s2sr.io.gdalopts import parse_creation_options
    from s2sr.io.s2meta import parse_offset_option
    from s2sr.io.stacitem import parse_asset_keys

    bbox = parse_bbox(args.bbox) if args.bbox else place_bbox(args.place_geojson)
    parse_interval(args.datetime)  # checked before any request
    collection = None if args.collection.lower() == "any" else args.collection
    cfg = FetchConfig(
        out=Path(args.out), query=Query(bbox, args.datetime, collection, args.max_cloud), stac=args.stac,
        all_items=args.all, asset_keys=parse_asset_keys(args.assets, DEFAULT_BANDS),
        offset=parse_offset_option(args.offset), compress=args.compress,
        creation_options=parse_creation_options(args.co), overwrite=args.overwrite,
    )
    for f in fetch(cfg):
        print(f"{f.path}\t{f.item}\tcloud {f.cloud_cover if f.cloud_cover is not None else '?'} %")
    return 0
