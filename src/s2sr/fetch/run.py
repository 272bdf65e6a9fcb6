"""``fetch``: the least cloudy Sentinel-2 item over a box (or all of them) as 4-band COGs.

Search (:mod:`s2sr.fetch.search`), then per item: a VRT of its band assets
(:func:`s2sr.io.sources.stac_item_input`, radiometric offset included), cut to the box on
the item's own UTM grid (whole pixels, no resampling), written by GDAL's COG driver under
a temporary name and renamed. Remote assets are read by window over HTTP (``/vsicurl/``).
"""

from __future__ import annotations

import logging
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from s2sr.bands import DEFAULT_BANDS
from s2sr.errors import ConfigError, InputError, OutputError
from s2sr.fetch.search import EARTH_SEARCH, Query, find_items
from s2sr.io.atomic import check_writable_dir
from s2sr.io.cog import write_cog
from s2sr.io.sources import stac_item_input
from s2sr.io.vrt import StackBand, StackGrid, write_stack_vrt

if TYPE_CHECKING:  # pragma: no cover
    import pystac
    from rasterio.windows import Window

    from s2sr.io.sources import ResolvedInput

log = logging.getLogger(__name__)

GDAL_REMOTE = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR", "GDAL_HTTP_MAX_RETRY": "2", "GDAL_HTTP_RETRY_DELAY": "1",
               "VSI_CACHE": "TRUE", "GDAL_HTTP_TIMEOUT": "60"}


@dataclass
class FetchConfig:
    """Options of :func:`fetch` (the ``s2sr fetch`` flags)."""

    out: Path  # the COG, or a folder with ``all_items``
    query: Query
    stac: str = EARTH_SEARCH
    all_items: bool = False
    asset_keys: dict[str, str] | None = None  # band name -> asset key (default: matched by name)
    offset: str | int = "auto"  # auto | none | N (DN offset added, e.g. -1000)
    compress: str = "DEFLATE"
    creation_options: dict[str, str] = field(default_factory=dict)
    overwrite: bool = False


@dataclass
class Fetched:
    path: Path
    item: str
    cloud_cover: float | None
    width: int
    height: int


def fetch(cfg: FetchConfig) -> list[Fetched]:
    """Search, then write the least cloudy item (or every item) clipped to the box."""
    out = Path(cfg.out)
    if not 0 <= cfg.query.max_cloud <= 100:
        raise ConfigError(f"--max-cloud {cfg.query.max_cloud:g}: give a cloud cover in percent, 0..100")
    _check_out(out, cfg)
    items = find_items(cfg.stac, cfg.query)
    if not items:
        q = cfg.query
        raise InputError(f"{cfg.stac}: no item of {q.collection or 'any collection'} over "
                         f"{','.join(f'{v:g}' for v in q.bbox)} in {q.datetime} with cloud cover <= {q.max_cloud:g} %; "
                         "widen --datetime, --bbox or --max-cloud, or check --collection")
    chosen = items if cfg.all_items else items[:1]
    if not cfg.all_items and len(items) > 1:
        log.info("least cloudy of %d: %s (%s %%); next: %s", len(items), chosen[0].id,
                 chosen[0].properties.get("eo:cloud_cover"), ", ".join(i.id for i in items[1:4]))
    if cfg.all_items:
        out.mkdir(exist_ok=True)
    done = []
    import rasterio

    with rasterio.Env(**GDAL_REMOTE), tempfile.TemporaryDirectory(prefix="s2sr-fetch-") as tmp:
        for it in chosen:
            dst = out / f"{it.id}.tif" if cfg.all_items else out
            done.append(_write_item(it, dst, Path(tmp), cfg))
    return done


def _check_out(out: Path, cfg: FetchConfig) -> None:
    if cfg.all_items:
        check_writable_dir(out)
        if out.exists() and not out.is_dir():
            raise OutputError(f"{out}: exists and is not a folder; --all writes one COG per item into a folder")
        return
    check_writable_dir(out)
    if out.suffix.lower() not in (".tif", ".tiff"):
        raise ConfigError(f"{out}: s2sr fetch writes a Cloud Optimized GeoTIFF; name it *.tif (or pass --all and a folder)")
    if out.is_dir():
        raise OutputError(f"{out}: is a folder; pass a file name such as {out / 'S2.tif'}, or --all for one file per item")
    if out.exists() and not cfg.overwrite:
        raise OutputError(f"{out}: already exists; remove it, choose another name, or pass --overwrite")


def _write_item(item: pystac.Item, dst: Path, tmp: Path, cfg: FetchConfig) -> Fetched:
    if dst.exists() and cfg.all_items and not cfg.overwrite:
        log.info("%s: exists, skipped (pass --overwrite to fetch it again)", dst)
        return Fetched(dst, item.id, _cloud(item), 0, 0)
    src = stac_item_input(item, DEFAULT_BANDS, tmp, f"{item.id}.vrt", cfg.offset, cfg.asset_keys)
    grid, window = _clip(src, cfg.query.bbox, item.id)
    tags = {**grid.tags, "FETCH_BBOX": ",".join(f"{v:g}" for v in cfg.query.bbox), "FETCH_STAC": cfg.stac}
    grid = StackGrid(grid.crs, grid.transform, grid.width, grid.height, grid.dtype, grid.nodata, grid.block, tags)
    bands = [StackBand(src.path, n, i + 1, 0, c) for i, (n, c) in enumerate(zip(src.names, _colours(src), strict=True))]
    vrt = write_stack_vrt(tmp / f"{item.id}.clip.vrt", grid, bands, window)
    write_cog(vrt, dst, grid.dtype, cfg.compress, extra=cfg.creation_options)
    w, h = int(window.width), int(window.height)
    log.info("wrote %s: %s, %dx%d px of %s (cloud cover %s %%)", dst, ",".join(src.names), w, h, item.id,
             item.properties.get("eo:cloud_cover", "?"))
    return Fetched(dst, item.id, _cloud(item), w, h)


def _cloud(item: pystac.Item) -> float | None:
    v = item.properties.get("eo:cloud_cover")
    return float(v) if isinstance(v, int | float) else None


def _colours(src: ResolvedInput) -> list[str]:
    from s2sr.bands import colour_interp

    return colour_interp(src.names)


def _clip(src: ResolvedInput, bbox: tuple[float, float, float, float], item_id: str) -> tuple[StackGrid, Window]:
    """The item's stacked grid and the window of whole pixels covering the lon/lat ``bbox``."""
    import rasterio
    from rasterio.warp import transform_bounds
    from rasterio.windows import Window, from_bounds

    with rasterio.open(src.path) as ds:
        grid = StackGrid(ds.crs, ds.transform, ds.width, ds.height, ds.dtypes[0], ds.nodata, (512, 512), ds.tags())
        bounds = transform_bounds("EPSG:4326", ds.crs, *bbox, densify_pts=21) if ds.crs else bbox
        win = from_bounds(*bounds, transform=ds.transform)
    c0, r0 = max(0, math.floor(win.col_off + 1e-6)), max(0, math.floor(win.row_off + 1e-6))
    c1 = min(grid.width, math.ceil(win.col_off + win.width - 1e-6))
    r1 = min(grid.height, math.ceil(win.row_off + win.height - 1e-6))
    if c1 <= c0 or r1 <= r0:
        raise InputError(f"{item_id}: its assets do not cover --bbox {','.join(f'{v:g}' for v in bbox)} (the item's "
                         "footprint overlaps it, its raster grid does not); widen --bbox")
    return grid, Window(c0, r0, c1 - c0, r1 - r0)
