"""The inputs of ``prepare --unpaired``, validated and read: Sentinel-2 images (the LR domain) and
HR images of other places resampled to the pseudo-LR fine grid.

S2 images are read whole, or their central ``max_lr_px`` window (enough for the fit). An HR
image keeps its own CRS (it must be metric: its pixel size in metres decides everything) and
is resampled north-up to ``fine_res`` m by GDAL (``average`` when finer, read as it is when
already at that pixel size), then cropped to a multiple of the scale. Every refusal is one
line naming the file and the fix.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from affine import Affine
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from s2sr.bands import s2_name
from s2sr.data.pairs import band_names, check_file
from s2sr.data.unpaired.bandmap import map_hr_bands
from s2sr.errors import InputError
from s2sr.io.raster import RasterInfo, open_raster, parse_bands, read_pixels, valid_mask
from s2sr.io.warp import pixel_size

log = logging.getLogger(__name__)
RES_TOLERANCE = 0.05


@dataclass
class S2Image:
    """One Sentinel-2 image (or its central window) in its own units."""

    path: str
    data: np.ndarray  # (bands, h, w) float64
    valid: np.ndarray  # (h, w): not nodata, not bright (cloud, saturation)
    res_m: float
    names: list[str]
    dtype: str


@dataclass
class HRImage:
    """One HR image on its fine grid (``fine_res`` m, its own CRS), cropped to a multiple of the scale."""

    path: str
    name: str
    data: np.ndarray  # (bands, h, w) float64, 0 where invalid
    valid: np.ndarray
    native_res_m: float
    bands: list[int]
    band_choice: str
    crs_wkt: str
    transform: Affine  # of the fine grid


def _metric(info: RasterInfo) -> bool:
    crs = info.crs
    return crs is not None and crs.is_projected and (crs.linear_units or "").lower() in ("metre", "meter", "m")


def read_s2(path: Path, bands: list[int], res_m: float | None, bright: float, max_px: int) -> S2Image:
    """A Sentinel-2 image: bands, names, pixel size in metres, valid pixels."""
    info = check_file(path)
    idx = parse_bands(bands, info.count, str(path), "--lr-bands")
    if _metric(info):
        res = pixel_size(info.grid.transform)
    elif res_m is not None:
        res = res_m
    else:
        what = "has no CRS" if info.crs is None else "has no metric CRS"
        raise InputError(f"{path}: {what}, so its pixel size in metres is unknown; pass --res-m 10")
    h, w = min(info.height, max_px), min(info.width, max_px)
    win = Window((info.width - w) // 2, (info.height - h) // 2, w, h)
    with open_raster(path) as ds:
        raw = read_pixels(ds, idx, window=win)
    valid = valid_mask(raw, info.nodata)
    if not valid.any():
        raise InputError(f"{path}: every pixel is nodata ({info.nodata}); check the file or its nodata value")
    data = raw.astype(np.float64)
    valid &= data.mean(axis=0) <= bright
    names = band_names(info, idx)
    s2 = [s2_name(n) for n in names]  # 'B2 blue', 'B02' -> 'B2': one spelling for every image
    return S2Image(str(path), data, valid, res, [str(n) for n in s2] if all(s2) else names, info.dtype)


def check_s2_set(images: list[S2Image]) -> None:
    """One pixel size and one band list for all S2 images."""
    ref = images[0]
    for im in images[1:]:
        if abs(im.res_m / ref.res_m - 1) > RES_TOLERANCE:
            raise InputError(f"{im.path}: pixel size {im.res_m:.4g} m differs from {ref.res_m:.4g} m of {ref.path}; "
                             "give --lr images of one pixel size")
        if im.names != ref.names:
            raise InputError(f"{im.path}: bands {','.join(im.names)} differ from {','.join(ref.names)} of {ref.path}; "
                             "select the same bands (--lr-bands)")


def read_hr(path: Path, lr_names: list[str], hr_bands: list[int] | None, fine_res: float, scale: int,
            train_res: float, max_pixels: int) -> HRImage:
    """An HR image resampled to ``fine_res`` m; refused when coarser, lacking bands, or all nodata."""
    info = check_file(path)
    if not _metric(info):
        raise InputError(f"{path}: no metric CRS (its pixel size in metres is unknown); "
                         "reproject it first, e.g. gdalwarp -t_srs EPSG:32631 (UTM)")
    native = pixel_size(info.grid.transform)
    if native > fine_res * 1.01:
        raise InputError(
            f"{path}: HR pixel size {native:.3g} m is coarser than LR_res/scale = {train_res:g}/{scale} = {fine_res:.3g} m; "
            f"pass an HR image of {fine_res:.3g} m or finer, or train at a coarser pseudo-LR pixel "
            f"(--train-res {native * scale:g} or more)")
    idx, how = map_hr_bands(str(path), info.descriptions, info.count, lr_names, hr_bands)
    data, ok, t = _resample(info, idx, fine_res, scale, max_pixels)
    if not ok.any():
        raise InputError(f"{path}: every pixel is nodata ({info.nodata}); check the file, or its nodata value "
                         "(gdal_edit.py -unsetnodata / -a_nodata)")
    log.info("%s: HR %.3g m -> %.3g m (%dx%d px), bands %s (%s)", path, native, fine_res, data.shape[2],
             data.shape[1], ",".join(map(str, idx)), how)
    data[:, ~ok] = 0.0
    assert info.crs is not None
    return HRImage(str(path), Path(path).stem, data, ok, native, idx, how, info.crs.to_wkt(), t)


def _resample(info: RasterInfo, idx: list[int], res: float, scale: int,
              max_pixels: int) -> tuple[np.ndarray, np.ndarray, Affine]:
    left, bottom, right, top = info.bounds
    w = int((right - left) / res + 1e-6) // scale * scale
    h = int((top - bottom) / res + 1e-6) // scale * scale
    if w < scale or h < scale:
        raise InputError(f"{info.path}: {right - left:.0f} x {top - bottom:.0f} m is smaller than one LR pixel; "
                         "pass a larger HR image")
    if w * h > max_pixels:
        raise InputError(f"{info.path}: {w}x{h} px at {res:g} m is more than {max_pixels} px; cut it into tiles "
                         "(gdal_translate -srcwin) and pass each with --hr")
    t = Affine(res, 0.0, left, 0.0, -res, top)
    same = abs(pixel_size(info.grid.transform) / res - 1) < 0.01 and info.grid.transform.b == 0 \
        and info.grid.transform.d == 0
    with open_raster(info.path) as src:
        if same:
            raw = read_pixels(src, idx, window=Window(0, 0, w, h))
            return raw.astype(np.float64), valid_mask(raw, info.nodata), src.transform
        kw: dict[str, object] = dict(crs=src.crs, transform=t, width=w, height=h, resampling=Resampling.average,
                                     dtype="float32", nodata=float("nan"))
        if src.nodata is not None:
            kw["src_nodata"] = src.nodata
        with WarpedVRT(src, **kw) as vrt:
            data = read_pixels(vrt, idx).astype(np.float64)
    return data, np.asarray(np.isfinite(data).all(axis=0)), t
