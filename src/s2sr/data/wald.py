"""Wald protocol: degrade a real image by the sensor model to make an (LR, HR) pair.

``degrade_image(img, outdir, scale)`` writes ``hr.tif`` (the image cropped to a
multiple of ``scale``) and ``lr.tif`` (``SensorModel(scale).degrade`` of it), on the
coarse grid whose fine grid is exactly the HR grid. It works in row strips with a
blur margin, so memory stays bounded, and the result equals degrading the whole
image at once (mirror padding at the image edges, real pixels elsewhere).
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window
from scipy.ndimage import minimum_filter
from tqdm import tqdm

from s2sr.errors import InputError, OutputError
from s2sr.grid import check_scale
from s2sr.io.atomic import atomic_file, make_dir
from s2sr.io.gdal_errors import gdal_writing
from s2sr.io.guard import check_outputs
from s2sr.io.raster import open_raster, parse_bands, pixel_grids_ok, read_pixels, valid_mask
from s2sr.io.values import OutputSpec, to_output
from s2sr.sensor import SensorModel, area_downsample

log = logging.getLogger(__name__)

PAIR_FILES = ("hr.tif", "lr.tif")


@dataclass(frozen=True)
class WaldPair:
    """Paths of a Wald pair and the sensor model that made it."""

    lr: Path
    hr: Path
    sensor: SensorModel
    bands: list[int]


def _profile(ds, width: int, height: int, transform: Affine, count: int, dtype: str) -> dict:
    return dict(
        driver="GTiff", width=width, height=height, count=count, dtype=dtype, crs=ds.crs,
        transform=transform, nodata=ds.nodata, tiled=True, blockxsize=256, blockysize=256,
        compress="deflate",
    )


def degrade_image(
    src: str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    scale: int,
    mtf: float = 0.3,
    bands: str | list[int] | None = None,
    strip: int = 64,
    progress: bool = True,
) -> WaldPair:
    """Write ``outdir/hr.tif`` and ``outdir/lr.tif`` (a Wald pair) from image ``src``.

    ``strip`` is the LR rows processed at once. Integer inputs keep their dtype
    (LR values rounded), like real Level-1C products.
    """
    scale = check_scale(scale)
    try:
        sensor = SensorModel(scale, mtf)
    except ValueError:
        raise InputError(f"--mtf {mtf}: must be in (0, 1), e.g. 0.3") from None
    if str(outdir) == "":  # Path("") is ".": an empty name would write into the current folder
        raise OutputError("OUTDIR '': empty folder name; pass a folder such as pair (or . for this folder)")
    outdir = Path(outdir)
    check_outputs([outdir / name for name in PAIR_FILES], [("input", src)],
                  "choose another OUTDIR (the pair is written as OUTDIR/hr.tif and OUTDIR/lr.tif)")
    if outdir.exists() and not outdir.is_dir():
        raise OutputError(f"{outdir}: exists and is not a directory; choose another OUTDIR")
    created = not outdir.exists()
    try:
        with warnings.catch_warnings():
            # a pixel grid without CRS stays one: logged once below instead of a warning per file
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            return _degrade(Path(src), outdir, sensor, bands, strip, progress)
    except BaseException:
        if created and outdir.is_dir() and not any(outdir.iterdir()):
            outdir.rmdir()  # a failed run leaves no empty OUTDIR behind
        raise


def _degrade(src: Path, outdir: Path, sensor: SensorModel, bands: str | list[int] | None, strip: int,
             progress: bool) -> WaldPair:
    scale = sensor.scale
    with open_raster(src) as ds:
        if ds.crs is None:
            log.info("%s: no CRS; the pair keeps its pixel grid (1 LR pixel = %d x %d input pixels)", src, scale, scale)
        idx = parse_bands(bands, ds.count, str(src), "--bands")
        t = ds.transform
        if t.b != 0 or t.d != 0:
            raise InputError(f"{src}: rotated/sheared grid; warp it north-up first (gdalwarp)")
        lw, lh = ds.width // scale, ds.height // scale
        if lw < 2 or lh < 2:
            raise InputError(f"{src}: {ds.width}x{ds.height} px is too small for --scale {scale}; use a larger image")
        hr_t = t
        lr_t = Affine(t.a * scale, 0.0, t.c, 0.0, t.e * scale, t.f)
        dtype = ds.dtypes[idx[0] - 1]
        desc = [ds.descriptions[i - 1] for i in idx]
        make_dir(outdir)
        hr_path, lr_path = outdir / "hr.tif", outdir / "lr.tif"
        with atomic_file(hr_path) as th, atomic_file(lr_path) as tl:
            hp = _profile(ds, lw * scale, lh * scale, hr_t, len(idx), dtype)
            lp = _profile(ds, lw, lh, lr_t, len(idx), dtype)
            with gdal_writing(outdir), pixel_grids_ok(), rasterio.open(th, "w", **hp) as dh, \
                    rasterio.open(tl, "w", **lp) as dl:
                _write_strips(ds, dh, dl, idx, sensor, lw, lh, strip, progress)
                for i, d in enumerate(desc, 1):
                    if d:
                        dh.set_band_description(i, d)
                        dl.set_band_description(i, d)
    log.info("wrote Wald pair %s (x%d, mtf %.2f)", outdir, scale, sensor.mtf_nyquist)
    return WaldPair(lr=lr_path, hr=hr_path, sensor=sensor, bands=idx)


def read_degraded(ds: rasterio.DatasetReader, bands: list[int], sensor: SensorModel, window: Window,
                  size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The Wald pair under LR ``window``: (HR core as read, LR float64, LR valid mask).

    The image is read with the blur radius around the window and mirrored where that reaches
    past the Wald HR grid of ``size`` = (height, width) (the image cropped to a multiple of the
    scale), so any window gives the pixels of degrading the whole image at once. An LR pixel is
    valid when every HR pixel under its blur support is.
    """
    s, m = sensor.scale, sensor.radius_hr
    r0, c0 = int(window.row_off) * s, int(window.col_off) * s
    r1, c1 = r0 + int(window.height) * s, c0 + int(window.width) * s
    a, b, c, d = max(0, r0 - m), min(size[0], r1 + m), max(0, c0 - m), min(size[1], c1 + m)
    raw = read_pixels(ds, bands, window=Window(c, a, d - c, b - a))
    pads = ((a - (r0 - m), (r1 + m) - b), (c - (c0 - m), (c1 + m) - d))
    hr = np.pad(raw.astype(np.float64), ((0, 0), *pads), mode="reflect")
    ok = np.pad(valid_mask(raw, ds.nodata), pads, mode="reflect")
    core = (slice(m, m + r1 - r0), slice(m, m + c1 - c0))
    lr = area_downsample(sensor.blur(hr)[(slice(None), *core)], s).astype(np.float64)
    support_ok = minimum_filter(ok.astype(np.uint8), size=2 * m + 1)[core].astype(np.float32)
    return raw[:, r0 - a: r1 - a, c0 - c: c1 - c], lr, area_downsample(support_ok[None], s)[0] >= 1.0


def _write_strips(ds, dh, dl, idx: list[int], sensor: SensorModel, lw: int, lh: int, strip: int, progress: bool) -> None:
    s = sensor.scale
    for r0 in tqdm(range(0, lh, strip), desc="degrade", unit="strip", disable=not progress, leave=False):
        win = Window(0, r0, lw, min(lh, r0 + strip) - r0)
        core_hr, lr, lvalid = read_degraded(ds, idx, sensor, win, (lh * s, lw * s))
        lr_out = to_output(lr, lvalid if ds.nodata is not None else None, OutputSpec(dl.dtypes[0], ds.nodata))
        dh.write(core_hr, window=Window(0, r0 * s, lw * s, int(win.height) * s))
        dl.write(lr_out, window=win)
