"""What ``apply`` (and ``evaluate``) check about an input image before any output is written.

Bands: their count, and their names when the file has them. With a model that stores its
training input statistics (``input_stats``, see :mod:`s2sr.infer.inputstats`): values on
another scale than training (8-bit, reflectance x 1000, 0..1 floats) are refused, and a band
order that fits the training pattern clearly better is named in a warning. Pixel size, in
metres whatever the CRS (:mod:`s2sr.io.pixelsize`): off by more than 25 % from the model's
``input_res`` warns; 1.9x or more (e.g. a 20 m band stack for a 10 m model) is refused.
``input_check="warn"`` (``--no-input-check``) turns refusals into warnings. Models without
``input_stats`` (older bundles) get the older checks: a data type warning, and pixel size
warnings only.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import rasterio

from s2sr.bands import s2_name
from s2sr.errors import ConfigError, InputError
from s2sr.infer.inputstats import (
    likely_band_order,
    sample_pixels,
    scale_problem,
    training_table,
    value_stats,
)
from s2sr.infer.model import LoadedModel
from s2sr.io.pixelsize import PixelSize, pixel_size_m, utm_epsg
from s2sr.io.raster import RasterInfo, check_readable_pixels, open_raster, parse_bands, read_info

log = logging.getLogger(__name__)

INPUT_CHECKS = ("refuse", "warn", "skip")  # skip: the caller has checked this image already
RES_WARN = 0.25  # relative pixel size difference that warns
RES_REFUSE = 1.9  # pixel size ratio (either way) that is refused
OVERRIDE = "pass --no-input-check to use it anyway"


def check_input(src: Path, lm: LoadedModel, bands: str | list[int] | None, check_resolution: bool = True,
                input_check: str = "refuse") -> tuple[RasterInfo, list[int]]:
    """The input's header and the band numbers to feed the model; refuses or warns about values and pixel size."""
    if input_check not in INPUT_CHECKS:
        raise ConfigError(f"input_check {input_check!r}: choose one of {', '.join(INPUT_CHECKS)}")
    info = read_info(src)
    with open_raster(src) as ds:
        check_readable_pixels(ds)
        idx = _band_numbers(src, info, lm, bands)
        if input_check == "skip":
            return info, idx
        names_known = check_band_names(src, info.descriptions, idx, lm.bands)
        train = training_table(lm.input_stats, len(lm.bands))
        if train is not None:
            _check_values(src, ds, idx, info.dtype, lm, train, names_known, input_check == "refuse")
        elif lm.input_dtype and info.dtype != lm.input_dtype:
            log.warning("%s: data type %s differs from the model's training data (%s); check that its values "
                        "are in the training units (e.g. reflectance x 10000), else the results are "
                        "meaningless", src, info.dtype, lm.input_dtype)
    if check_resolution:
        _check_pixel_size(src, info, lm, input_check if train is not None else "legacy")
    elif info.crs is None:
        _no_crs(src, lm)
    return info, idx


def _band_numbers(src: Path, info: RasterInfo, lm: LoadedModel, bands: str | list[int] | None) -> list[int]:
    nb = len(lm.bands)
    if bands is None and info.count != nb:
        raise InputError(
            f"{src}: has {info.count} band(s) but model {lm.name} expects {nb} ({', '.join(lm.bands)}); "
            f"pass --bands with {nb} band numbers in that order, e.g. --bands {','.join(str(i + 1) for i in range(nb))}"
        )
    idx = parse_bands(bands, info.count, str(src), "--bands")
    if len(idx) != nb:
        raise InputError(f"{src}: --bands {idx} selects {len(idx)} band(s) but model {lm.name} expects "
                         f"{nb} ({', '.join(lm.bands)}); pass --bands with {nb} band numbers")
    return idx


def check_band_names(src: Path, descriptions: tuple[str | None, ...], bands: list[int], model_bands: list[str]) -> bool:
    """Warn when the selected bands are named (e.g. B04,B03,B02,B08) and the names differ from the model's.

    True when names settle the band order (all named: same as the model's, or warned about).
    """
    have = [s2_name(descriptions[b - 1]) for b in bands]
    want = [s2_name(b) for b in model_bands]
    if None in have or None in want:
        return False
    if have == want:
        return True
    hint = ""
    names = [s2_name(d) for d in descriptions]
    if all(w in names for w in want):
        hint = f"; pass --bands {','.join(str(names.index(w) + 1) for w in want)}"
    log.warning("%s: bands %s are named %s but the model expects %s%s", src, ",".join(map(str, bands)),
                ",".join(str(descriptions[b - 1]) for b in bands), ",".join(model_bands), hint)
    return True


def _check_values(src: Path, ds: rasterio.DatasetReader, idx: list[int], dtype: str, lm: LoadedModel,
                  train: np.ndarray, names_known: bool, refuse: bool) -> None:
    seen = value_stats(sample_pixels(ds, idx))
    if seen is None:
        log.info("%s: too few valid pixels to compare its values with the model's training data", src)
        return
    problem = scale_problem(seen, train, dtype)
    if problem is not None:
        _refuse_or_warn(refuse, _scale_message(src, seen.p50, train[1], dtype, *problem, lm))
        return  # on another scale, band patterns say nothing
    order = None if names_known else likely_band_order(seen, train)
    if order is not None:
        fix = ",".join(str(idx[i]) for i in order)
        log.warning("%s: the band order looks wrong: its band statistics fit the training data of model %s much "
                    "better as bands %s = %s; if so, pass --bands %s (a guess from statistics: check the file's "
                    "source)", src, lm.name, fix, ",".join(lm.bands), fix)


def _scale_message(src: Path, p50: np.ndarray, t50: np.ndarray, dtype: str, what: str, factor: float,
                   lm: LoadedModel) -> str:
    med = ", ".join(f"{v:.4g}" for v in p50)
    tmed = ", ".join(f"{v:.4g}" for v in t50)
    seen = f"band medians {med} vs {tmed} in the training data of model {lm.name} ({','.join(lm.bands)})"
    if what == "8-bit":
        kind = "8-bit data (uint8)" if dtype == "uint8" else "8-bit values (all <= 255)"
        return (f"{src}: holds {kind}, {seen}; the model needs the values it was trained on (Sentinel-2 "
                f"reflectance x 10000 as uint16): use the product's reflectance bands, not an 8-bit rendering, or "
                f"{OVERRIDE}")
    hint = {10.0: " (reflectance x 1000 instead of x 10000?)", 100.0: " (reflectance in percent instead of x 10000?)",
            10000.0: " (reflectance 0..1 instead of x 10000?)"}.get(factor, "") if 300 < np.median(t50) < 5000 else ""
    return (f"{src}: values are {what} than the model's training data{hint}: {seen}; rescale it, e.g. "
            f"gdal_calc.py -A {src} --allBands=A --calc=\"A*{factor:g}\" --type=UInt16 --outfile={src.stem}_scaled.tif, "
            f"or {OVERRIDE}")


def _check_pixel_size(src: Path, info: RasterInfo, lm: LoadedModel, mode: str) -> None:
    """``mode``: refuse | warn (refusals become warnings) | legacy (older bundle, input_res maybe not metres:
    warnings only)."""
    if info.crs is None:
        _no_crs(src, lm)
        return
    if not lm.input_res:
        return
    size = pixel_size_m(info.crs, info.grid.transform, info.width, info.height)
    if size is None:
        log.info("%s: its CRS cannot be measured in metres; its pixel size is not checked against the %g m model %s "
                 "is for", src, lm.input_res, lm.name)
        return
    ratio = size.mean / lm.input_res
    if max(ratio, 1 / ratio) >= RES_REFUSE and mode != "legacy":
        guess = " (a 20 m or 60 m band stack?)" if ratio > 1 else ""
        _refuse_or_warn(mode == "refuse", f"{src}: pixel size {size.describe()} is {_times(ratio)} the {lm.input_res:g} m "
                        f"model {lm.name} was trained for{guess}; super-resolve {lm.input_res:g} m bands, or "
                        f"resample it first: {_warp_fix(src, info, size, lm.input_res)}, or {OVERRIDE}")
    elif abs(ratio - 1) > RES_WARN:
        log.warning("%s: pixel size %s differs from the model's training resolution %g m; results may be poor "
                    "(resample the input to %g m first: %s)", src, size.describe(), lm.input_res, lm.input_res,
                    _warp_fix(src, info, size, lm.input_res))


def _times(ratio: float) -> str:
    return f"{ratio:.2g}x" if ratio >= 1 else f"1/{1 / ratio:.2g} of"


def _warp_fix(src: Path, info: RasterInfo, size: PixelSize, res: float) -> str:
    crs = ""
    if not size.exact:
        lon, lat = _centre_lonlat(info)
        crs = f"-t_srs EPSG:{utm_epsg(lon, lat)} "
    method = "average" if size.mean < res else "cubic"
    return f"gdalwarp {crs}-tr {res:g} {res:g} -r {method} {src} {src.stem}_{res:g}m.tif"


def _centre_lonlat(info: RasterInfo) -> tuple[float, float]:
    from rasterio.warp import transform as warp

    x, y = info.grid.transform @ (info.width / 2, info.height / 2)
    if info.crs is not None and info.crs.is_geographic:
        return x, y
    lon, lat = warp(info.crs, "EPSG:4326", [x], [y])
    return lon[0], lat[0]


def _no_crs(src: Path, lm: LoadedModel) -> None:
    extra = (f"; its pixel size is unknown, so it is not checked against the {lm.input_res:g} m the model is for"
             if lm.input_res else "")
    log.info("%s: no CRS; the output keeps its pixel grid (1 input pixel = %d x %d output pixels)%s", src,
             lm.scale, lm.scale, extra)


def _refuse_or_warn(refuse: bool, message: str) -> None:
    if refuse:
        raise InputError(message)
    log.warning("%s (--no-input-check: going on)", message.removesuffix(f", or {OVERRIDE}"))

