"""What ``apply`` checks about its input image before any output is written."""

from __future__ import annotations

import logging
from pathlib import Path

from s2sr.bands import s2_name
from s2sr.errors import InputError
from s2sr.infer.model import LoadedModel
from s2sr.io.raster import RasterInfo, check_readable_pixels, open_raster, parse_bands, read_info

log = logging.getLogger(__name__)


def check_input(src: Path, lm: LoadedModel, bands: str | list[int] | None,
                check_resolution: bool = True) -> tuple[RasterInfo, list[int]]:
    """The input's header and the band numbers to feed the model; warns about units and resolution."""
    info = read_info(src)
    with open_raster(src) as ds:
        check_readable_pixels(ds)
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
    check_band_names(src, info.descriptions, idx, lm.bands)
    if info.crs is None:
        log.info("%s: no CRS; the output keeps its pixel grid (1 input pixel = %d x %d output pixels)", src,
                 lm.scale, lm.scale)
    if lm.input_dtype and info.dtype != lm.input_dtype:
        log.warning("%s: data type %s differs from the model's training data (%s); check that its values are in "
                    "the training units (e.g. reflectance x 10000), else the results are meaningless", src,
                    info.dtype, lm.input_dtype)
    if check_resolution and lm.input_res and info.crs is not None:
        res = max(info.res)
        if abs(res / lm.input_res - 1.0) > 0.25:
            log.warning("%s: pixel size %.3g differs from the model's training resolution %.3g; results may be poor "
                        "(resample the input to %.3g first)", src, res, lm.input_res, lm.input_res)
    return info, idx


def check_band_names(src: Path, descriptions: tuple[str | None, ...], bands: list[int], model_bands: list[str]) -> None:
    """Warn when the selected bands are named (e.g. B04,B03,B02,B08) and the names differ from the model's."""
    have = [s2_name(descriptions[b - 1]) for b in bands]
    want = [s2_name(b) for b in model_bands]
    if None in have or None in want or have == want:
        return
    hint = ""
    names = [s2_name(d) for d in descriptions]
    if all(w in names for w in want):
        hint = f"; pass --bands {','.join(str(names.index(w) + 1) for w in want)}"
    log.warning("%s: bands %s are named %s but the model expects %s%s", src, ",".join(map(str, bands)),
                ",".join(str(descriptions[b - 1]) for b in bands), ",".join(model_bands), hint)
