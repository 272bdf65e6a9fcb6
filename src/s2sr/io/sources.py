"""Any Sentinel-2 input as one raster with its bands in the model's order.

``apply``, ``prepare`` and ``evaluate`` take, wherever they take a Sentinel-2 image:

- a raster file GDAL reads (GeoTIFF, VRT...): bands picked by their names (descriptions
  B02/B2/blue...), else by position when the count fits (logged), or by ``--bands``;
- a STAC item JSON (file or URL): one asset per band (:mod:`s2sr.io.stacitem`);
- a ``.SAFE`` product folder, L1C or L2A (:mod:`s2sr.io.safe`): its 10 m JP2 band files;
- a folder of per-band files named like ``B02.tif``, ``T31UDQ_..._B02_10m.jp2``, ``blue.tif``.

Multi-file inputs become a GDAL VRT (:mod:`s2sr.io.vrt`) stacked in the wanted band order,
with the product's tags and its radiometric offset handled (:mod:`s2sr.io.s2meta`); a
raster file is read in place through a band list. What was chosen is always logged.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from s2sr.bands import DEFAULT_BANDS, band_in_filename, colour_interp, s2_name
from s2sr.errors import InputError
from s2sr.io.raster import open_raster, parse_bands
from s2sr.io.s2meta import ProductInfo, attribution, stac_offsets, stac_tags
from s2sr.io.safe import RASTER_SUFFIXES, is_safe, safe_band_files, safe_product_info
from s2sr.io.vrt import StackBand, StackGrid, write_stack_vrt

log = logging.getLogger(__name__)

BAND_FILE_SUFFIXES = (*RASTER_SUFFIXES, ".vrt")
NOT_COPIED = ("AREA_OR_POINT",)  # per-file tags that do not describe the source


@dataclass
class ResolvedInput:
    """An input made readable: ``path`` (the raster itself, or a VRT) and its ``bands`` in the wanted order."""

    origin: str  # what the user passed
    kind: str  # raster | stac | safe | bands
    path: str  # GDAL path to read
    bands: list[int]  # 1-based bands of ``path``, in the wanted order
    names: list[str]  # band names in that order
    tags: dict[str, str] = field(default_factory=dict)  # source tags (SENSOR, LEVEL, DATATAKE, ...)
    files: list[str] = field(default_factory=list)  # every file or URL behind ``path``
    label: str = ""  # a short name (file stem, product name, item id)

    def fingerprint(self) -> list[list[object]]:
        """(file, size, mtime) of every local file behind the input (URLs: the URL alone)."""
        out: list[list[object]] = []
        for f in self.files:
            try:
                st = os.stat(f)
                out.append([str(Path(f).resolve()), st.st_size, st.st_mtime_ns])
            except OSError:
                out.append([f])
        return out


def resolve_input(src: str | os.PathLike[str], want: Sequence[str] = DEFAULT_BANDS,
                  bands: str | list[int] | None = None, *, workdir: Path | None = None, vrt_name: str | None = None,
                  offset: str | int = "auto", asset_keys: dict[str, str] | None = None,
                  option: str = "--bands", needs: str = "s2sr needs") -> ResolvedInput:
    """Resolve ``src`` (raster, STAC item, SAFE folder or band folder) for the band names ``want``.

    Multi-file inputs are written as a VRT into ``workdir`` (named ``vrt_name``, default LABEL.vrt).
    ``needs`` words who wants the bands in errors ("model X expects").
    """
    want = [s2_name(w) or w for w in want]
    s = os.fspath(src)
    from s2sr.io.stacitem import is_item_json

    if is_item_json(s):
        return _multi(s, "stac", *_stac_parts(s, want, offset, asset_keys), want, bands, workdir, vrt_name, option)
    p = Path(s)
    if p.is_dir():
        if is_safe(p):
            info = safe_product_info(p, want, apply_offset=offset != "none")
            files = {b: str(f) for b, f in safe_band_files(p, want).items()}
            return _multi(s, "safe", files, info, p.name.removesuffix(".SAFE").removesuffix(".safe"), want, bands,
                          workdir, vrt_name, option)
        return _multi(s, "bands", _folder_bands(p, want), ProductInfo(), p.name, want, bands, workdir, vrt_name,
                      option)
    return _raster(p, want, bands, option, needs)


@contextmanager
def opened_input(src: str | os.PathLike[str], want: Sequence[str] = DEFAULT_BANDS,
                 bands: str | list[int] | None = None, **kw: object) -> Iterator[ResolvedInput]:
    """:func:`resolve_input` with a temporary folder for the VRT, removed on exit."""
    with tempfile.TemporaryDirectory(prefix="s2sr-input-") as d:
        yield resolve_input(src, want, bands, workdir=Path(d), **kw)  # type: ignore[arg-type]


def is_multi_file(src: str | os.PathLike[str]) -> bool:
    """True for inputs that need a VRT (STAC item, SAFE, band folder), False for raster files."""
    from s2sr.io.stacitem import is_item_json

    s = os.fspath(src)
    return is_item_json(s) or Path(s).is_dir()


# ---- raster files -----------------------------------------------------------------------
def _raster(p: Path, want: list[str], bands: str | list[int] | None, option: str, needs: str) -> ResolvedInput:
    with open_raster(p) as ds:
        count, desc = ds.count, tuple(ds.descriptions)
        tags = {k: v for k, v in ds.tags().items() if not k.startswith("S2SR_") and k not in NOT_COPIED}
    names = [s2_name(d) for d in desc]
    if bands is not None:
        idx = parse_bands(bands, count, str(p), option)
        chosen = [names[i - 1] or w for i, w in zip(idx, want, strict=False)]
        log.info("%s: bands %s used as %s (%s)", p, _nums(idx), ",".join(want), option)
        return ResolvedInput(str(p), "raster", str(p), idx, chosen if len(chosen) == len(want) else want, tags,
                             [str(p)], p.stem)
    if all(w in names for w in want) and all(names.count(w) == 1 for w in want):
        idx = [names.index(w) + 1 for w in want]
        how = "in file order" if idx == list(range(1, len(want) + 1)) else "reordered"
        log.info("%s: bands %s = %s, chosen by their names (%s)", p, _nums(idx), ",".join(want), how)
        return ResolvedInput(str(p), "raster", str(p), idx, list(want), tags, [str(p)], p.stem)
    named = [n for n in names if n]
    if named and len(named) == count:
        raise InputError(f"{p}: its bands are named {','.join(str(d) for d in desc)}, which lack "
                         f"{','.join(w for w in want if w not in names)} of {','.join(want)}; pass {option} with "
                         f"{len(want)} band numbers in that order")
    if count != len(want):
        raise InputError(f"{p}: has {count} band(s) but {needs} {len(want)} ({', '.join(want)}); pass {option} "
                         f"with {len(want)} band numbers in that order, e.g. {option} {_nums(list(range(1, len(want) + 1)))}")
    idx = list(range(1, count + 1))
    log.info("%s: no Sentinel-2 band names; bands %s taken as %s by position (pass %s to choose others, "
             "or name the bands: gdal_edit.py -mo or rio edit-info)", p, _nums(idx), ",".join(want), option)
    return ResolvedInput(str(p), "raster", str(p), idx, list(want), tags, [str(p)], p.stem)


def _nums(idx: list[int]) -> str:
    return ",".join(str(i) for i in idx)


# ---- multi-file inputs ------------------------------------------------------------------
def _stac_parts(src: str, want: list[str], offset: str | int,
                asset_keys: dict[str, str] | None) -> tuple[dict[str, str], ProductInfo, str]:
    from s2sr.io.stacitem import item_band_hrefs, item_properties, read_item

    item = read_item(src)
    props = item_properties(item)
    offsets, note = stac_offsets(props, want, offset)
    return item_band_hrefs(item, want, asset_keys), ProductInfo(stac_tags(item.id, item.collection_id, props),
                                                                offsets, note), item.id


def stac_item_input(item: object, want: Sequence[str], workdir: Path, vrt_name: str, offset: str | int = "auto",
                    asset_keys: dict[str, str] | None = None) -> ResolvedInput:
    """A VRT of a pystac ``Item`` already in memory (``s2sr fetch``)."""
    from s2sr.io.stacitem import item_band_hrefs, item_properties

    want = [s2_name(w) or w for w in want]
    props = item_properties(item)  # type: ignore[arg-type]
    offsets, note = stac_offsets(props, want, offset)
    info = ProductInfo(stac_tags(item.id, item.collection_id, props), offsets, note)  # type: ignore[attr-defined]
    hrefs = item_band_hrefs(item, want, asset_keys)  # type: ignore[arg-type]
    return _multi(item.id, "stac", hrefs, info, item.id, want, None, workdir, vrt_name, "--bands")  # type: ignore[attr-defined]


def _folder_bands(folder: Path, want: list[str]) -> dict[str, str]:
    found: dict[str, list[Path]] = {}
    for f in sorted(folder.iterdir()):
        if f.is_file() and f.suffix.lower() in BAND_FILE_SUFFIXES and not f.name.startswith("."):
            name = band_in_filename(f.name)
            if name:
                found.setdefault(name, []).append(f)
    if not found:
        raise InputError(f"{folder}: no band file (named like B02.tif, T31UDQ_20220301T105031_B02_10m.jp2 or "
                         "blue.tif) and not a .SAFE product; pass a raster, a STAC item, a .SAFE folder or a band folder")
    missing = [b for b in want if b not in found]
    if missing:
        raise InputError(f"{folder}: no file for {','.join(missing)} (found {', '.join(sorted(found))}); "
                         f"add one file per band of {','.join(want)}")
    dup = [b for b in want if len(found[b]) > 1]
    if dup:
        raise InputError(f"{folder}: several files for {dup[0]} ({', '.join(f.name for f in found[dup[0]])}); "
                         "keep one file per band")
    return {b: str(found[b][0]) for b in want}


def _multi(origin: str, kind: str, files: dict[str, str], info: ProductInfo, label: str, want: list[str],
           bands: str | list[int] | None, workdir: Path | None, vrt_name: str | None, option: str) -> ResolvedInput:
    if bands is not None:
        raise InputError(f"{origin}: {option} applies to single raster files; the bands of a {kind_name(kind)} are "
                         f"found by name ({','.join(want)}); leave {option} out")
    if workdir is None:
        raise ValueError("resolve_input: a multi-file input needs a workdir for its VRT")
    grid = _common_grid(origin, files, want)
    tags = {**info.tags, "RADIOMETRIC_OFFSET": info.offset_note} if info.offset_note else dict(info.tags)
    if kind in ("safe", "stac") and attribution(tags):
        tags["ATTRIBUTION"] = attribution(tags)  # carried to fetch and apply outputs, shown by s2sr serve
    nodata = grid.nodata
    if nodata is None and kind in ("safe", "stac"):
        nodata = 0  # DN 0 is NO_DATA in every Sentinel-2 product (the JP2 files do not say so)
    grid = StackGrid(grid.crs, grid.transform, grid.width, grid.height, grid.dtype, nodata, grid.block, tags)
    colours = colour_interp(want)
    stack = [StackBand(files[b], b, 1, info.offsets.get(b, 0), c) for b, c in zip(want, colours, strict=True)]
    vrt = write_stack_vrt(workdir / (vrt_name or f"{label}.vrt"), grid, stack)
    log.info("%s: %s, bands %s from %s; radiometric offset %s", origin, kind_name(kind), ",".join(want),
             ", ".join(_short(files[b]) for b in want), info.offset_note or "none")
    return ResolvedInput(origin, kind, str(vrt), list(range(1, len(want) + 1)), list(want), tags,
                         [files[b] for b in want], label)


def kind_name(kind: str) -> str:
    return {"stac": "STAC item", "safe": "Sentinel-2 product", "bands": "band folder"}.get(kind, "raster")


def _short(f: str) -> str:
    return f.rsplit("/", 1)[-1]


def _common_grid(origin: str, files: dict[str, str], want: list[str]) -> StackGrid:
    """The grid all band files share (CRS, transform, size, type); an InputError names the one that differs."""
    ref: StackGrid | None = None
    ref_band = ""
    for b in want:
        g = _grid_of(files[b], origin)
        if ref is None:
            ref, ref_band = g, b
            continue
        same = (g.crs == ref.crs and g.width == ref.width and g.height == ref.height and g.dtype == ref.dtype
                and g.transform.almost_equals(ref.transform, precision=1e-6 * abs(ref.transform.a)))
        if not same:
            raise InputError(f"{files[b]}: band {b} is {g.width}x{g.height} {g.dtype} on another grid than {ref_band} "
                             f"({ref.width}x{ref.height} {ref.dtype}, {files[ref_band]}); stack bands of one "
                             "resolution (the 10 m bands), or resample them first (gdalwarp -tr)")
    assert ref is not None
    return ref


def _grid_of(path: str, origin: str) -> StackGrid:
    if "://" not in path and not path.startswith("/vsi") and not Path(path).is_file():
        raise InputError(f"{path}: band file of {origin} not found; check the input")
    import rasterio
    from rasterio.errors import RasterioIOError

    try:
        with rasterio.open(path) as ds:
            if ds.count != 1:
                log.info("%s: %d bands; using band 1", path, ds.count)
            block = ds.block_shapes[0]
            return StackGrid(ds.crs, ds.transform, ds.width, ds.height, ds.dtypes[0], ds.nodata, (block[1], block[0]))
    except RasterioIOError as e:
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise InputError(f"{path}: cannot read this band of {origin} ({first}); check the file or that its "
                         "server is reachable") from None
