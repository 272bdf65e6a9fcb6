"""The fixed set of layers a server shows: built once at start, addressed by id, never by path.

Each scene gives up to four tile layers (SR true colour, original true colour, SR false
colour, and "SR confidence" when the SR has an ``apply --uncertainty`` file). Band indexes come from the band descriptions (B2/B02/blue ...); without them the
project's order B2, B3, B4, B8 is assumed. The SR and the original share one display
stretch (the original's 2-98 % percentiles) so that a swipe compares like with like.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rasterio.warp import transform_bounds

from s2sr.bands import DEFAULT_BANDS, FALSE_COLOUR, TRUE_COLOUR, s2_name
from s2sr.errors import GridError, InputError
from s2sr.io.raster import read_info
from s2sr.serve.confidence import uncertainty_beside
from s2sr.serve.config import SceneConfig
from s2sr.serve.stats import Stretch, cached_stretch

log = logging.getLogger(__name__)

LAYER_TITLES = {
    "sr_rgb": "S2 RGB (High-Res)",
    "lr_rgb": "S2 RGB (original 10 m)",
    "sr_false": "S2 false colour (High-Res)",
    "sr_conf": "SR confidence",
}
FOOTPRINT_TITLE = "Training patches footprint"
NO_OVERVIEW_WARN = 2048  # pixels on the longest side


@dataclass(frozen=True)
class Layer:
    """One XYZ tile layer: a file, three band indexes and a display stretch."""

    scene: str
    id: str
    name: str
    path: Path
    indexes: tuple[int, int, int]
    stretch: Stretch
    bounds: tuple[float, float, float, float]  # WGS84 west, south, east, north
    minzoom: int
    maxzoom: int
    role: str  # "sr", "lr" or "conf" (the SR confidence layer, see s2sr.serve.confidence)
    attribution: str = ""  # from the file's tags (s2sr.io.s2meta.attribution): never assumed
    legend: dict[str, Any] | None = None  # colour ramp and numbers of the confidence layer


@dataclass
class MapScene:
    """What one scene serves: its layers, footprint (GeoJSON dict) and model card."""

    name: str
    layers: dict[str, Layer] = field(default_factory=dict)
    footprint: dict[str, Any] | None = None
    card: dict[str, Any] | None = None


def band_indexes(path: Path, descriptions: tuple[str | None, ...], count: int,
                 wanted: tuple[str, str, str]) -> tuple[int, int, int] | None:
    """1-based indexes of ``wanted`` bands, or None when the file lacks one of them."""
    names = [s2_name(d) for d in descriptions]
    if not any(names):
        names = list(DEFAULT_BANDS[:count])
        log.info("%s: no band descriptions; assuming band order %s", path, ",".join(DEFAULT_BANDS[:count]))
    try:
        i = tuple(names.index(b) + 1 for b in wanted)
    except ValueError:
        return None
    return (i[0], i[1], i[2])


def _describe(path: Path) -> tuple[Any, tuple[int, int, int], tuple[int, int, int] | None]:
    info = read_info(path)
    if info.crs is None:
        raise InputError(
            f"{path}: has no CRS, so it cannot be placed on a web map; "
            "georeference it (e.g. gdal_edit.py -a_srs) or serve a georeferenced image"
        )
    rgb = band_indexes(path, info.descriptions, info.count, TRUE_COLOUR)
    if rgb is None:
        raise InputError(
            f"{path}: bands {info.descriptions} lack one of {TRUE_COLOUR}; "
            "set band descriptions B2,B3,B4(,B8) (e.g. rio edit-info --bidx N --description B4)"
        )
    return info, rgb, band_indexes(path, info.descriptions, info.count, FALSE_COLOUR)


def _zooms(path: Path) -> tuple[int, int]:
    from rio_tiler.io import Reader

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NoOverviewWarning: said once below, with the fix
        r = Reader(str(path))
    with r:
        ds = r.dataset
        if ds is not None and max(ds.width, ds.height) > NO_OVERVIEW_WARN and not ds.overviews(1):
            log.warning("%s: no overviews, so low zooms will be slow; add them "
                        "(gdaladdo -r average %s) or write a COG", path, path.name)
        return int(r.minzoom), int(r.maxzoom)


def _layer(scene: str, lid: str, path: Path, info: Any, idx: tuple[int, int, int],
           stretch: Stretch, prefix: str) -> Layer:
    west, south, east, north = transform_bounds(info.crs, "EPSG:4326", *info.bounds, densify_pts=21)
    minz, maxz = _zooms(path)
    return Layer(scene=scene, id=lid, name=prefix + LAYER_TITLES[lid], path=path, indexes=idx,
                 stretch=stretch, bounds=(west, south, east, north), minzoom=minz, maxzoom=maxz,
                 role=lid.split("_")[0], attribution=_attribution(path))


def _attribution(path: Path) -> str:
    import rasterio

    from s2sr.io.s2meta import attribution

    with rasterio.open(path) as ds:
        return attribution(ds.tags())


def build_layers(sc: SceneConfig, prefix: str = "") -> dict[str, Layer]:
    """The tile layers of one scene (validated files, stretch computed once per file)."""
    sr = Path(sc.sr)
    sr_info, sr_rgb, sr_false = _describe(sr)
    rgb_st = cached_stretch(sr, sr_rgb)
    false_st = cached_stretch(sr, sr_false) if sr_false else None
    lr_layer = None
    if sc.lr is not None:
        lr = Path(sc.lr)
        lr_info, lr_rgb, lr_false = _describe(lr)
        lr_st = cached_stretch(lr, lr_rgb)
        if same_units(rgb_st, lr_st):  # show the SR with the original's stretch
            rgb_st = lr_st
            false_st = cached_stretch(lr, lr_false) if sr_false and lr_false else false_st
        else:
            log.warning("%s and %s have different value ranges (not the same units?); "
                        "each is stretched on its own", sr, lr)
        lr_layer = _layer(sc.name, "lr_rgb", lr, lr_info, lr_rgb, lr_st, prefix)
    layers = {"sr_rgb": _layer(sc.name, "sr_rgb", sr, sr_info, sr_rgb, rgb_st, prefix)}
    if lr_layer is not None and not _intersect(layers["sr_rgb"].bounds, lr_layer.bounds):
        raise GridError(f"{sr} and {lr_layer.path}: do not overlap; pass as --lr the image the SR was made from")
    if lr_layer is not None:
        layers["lr_rgb"] = lr_layer
    if sr_false is not None and false_st is not None:
        layers["sr_false"] = _layer(sc.name, "sr_false", sr, sr_info, sr_false, false_st, prefix)
    else:
        log.warning("%s: no B8 band found; the false-colour layer is not shown", sr)
    unc = Path(sc.uncertainty) if sc.uncertainty is not None else uncertainty_beside(sr)
    if unc is not None:
        layers["sr_conf"] = _confidence_layer(sc.name, unc, sr_info, prefix)
    return layers


def _confidence_layer(scene: str, path: Path, sr_info: Any, prefix: str) -> Layer:
    """The "SR confidence" layer of ``path`` (an ``apply --uncertainty`` output on the SR's grid)."""
    from s2sr.serve import confidence

    level, units = confidence.describe(path, sr_info)
    info, rgb, _ = _describe(path)
    lo, hi = confidence.value_range(path, rgb)
    layer = _layer(scene, "sr_conf", path, info, rgb, ((lo, hi),) * 3, prefix)
    legend = {"title": f"{confidence.TITLE}: half-width of the {100 * level:g} % interval (B2-B4 mean, {units})",
              "min": lo, "max": hi, "colours": confidence.legend_stops(), "level": level,
              "note": f"transparent below {lo:g} (the scene's more confident half)"}
    return replace(layer, legend=legend, role="conf")


def _intersect(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    """Whether two WGS84 boxes (west, south, east, north) overlap; boxes across the antimeridian always do."""
    if a[0] > a[2] or b[0] > b[2]:
        return True
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def same_units(a: Stretch, b: Stretch) -> bool:
    """True when two stretches look like the same units (centres within a factor 2 per band)."""
    for (a0, a1), (b0, b1) in zip(a, b, strict=True):
        ca, cb = (a0 + a1) / 2, (b0 + b1) / 2
        if ca <= 0 or cb <= 0 or max(ca, cb) / min(ca, cb) > 2:
            return False
    return True


def union_bounds(layers: list[Layer]) -> tuple[float, float, float, float]:
    """WGS84 bounds covering all ``layers``."""
    return (min(la.bounds[0] for la in layers), min(la.bounds[1] for la in layers),
            max(la.bounds[2] for la in layers), max(la.bounds[3] for la in layers))
