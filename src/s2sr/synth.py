"""A synthetic LR/HR pair with known truth: the demo's training scene.

``hr.tif`` is a landscape (:mod:`s2sr.landscape`) on a 10/scale m UTM grid: crop fields with row texture,
bare soil, grass, textured forest, a river and a lake, rural roads, and a town of
small buildings (a few HR pixels each) with cast shadows. ``lr.tif`` is the same
area at 10 m made as a sensor would: the HR is shifted by a small sub-pixel
misregistration, degraded by :class:`s2sr.sensor.SensorModel`, given per-band
gains/offsets and noise; a small cloud and a nodata strip (a tile edge) are added.
``truth.json`` records the shift, gains and offsets.

Shift convention (also used by ``prepare``): ``shift_lr_px = (dx, dy)`` is the
offset of the LR content relative to the HR, in LR pixels, x to the east
(columns), y to the south (rows): a feature at HR map position p appears in the
LR image at p + (dx, dy) LR pixels, i.e. ``LR(x) = gain * degrade(HR)(x - d) + offset``.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from s2sr._version import __version__
from s2sr.bands import DEFAULT_BANDS
from s2sr.errors import ConfigError, OutputError
from s2sr.grid import check_scale
from s2sr.landscape import grid_coords, render_landscape
from s2sr.sensor import SensorModel

log = logging.getLogger(__name__)

CRS_EPSG = 32631
ORIGIN = (600000.0, 5400000.0)  # upper-left corner, on a 10 m multiple
NODATA = 0

@dataclass(frozen=True)
class SynthResult:
    """Paths written by :func:`synthesise`, and the truth they were made with."""

    lr: Path
    hr: Path
    truth: Path
    shift_lr_px: tuple[float, float]
    gains: tuple[float, ...]
    offsets: tuple[float, ...]


def synthesise(
    outdir: str | Path, seed: int = 0, size: int = 2048, scale: int | str = 4, mtf_nyquist: float = 0.3
) -> SynthResult:
    """Write ``hr.tif``, ``lr.tif`` and ``truth.json`` into ``outdir`` (created if needed)."""
    if str(outdir) == "":  # Path("") is ".": an empty name would write into the current folder
        raise OutputError("OUTDIR '': empty folder name; pass a folder such as scene (or . for this folder)")
    outdir = Path(outdir)
    scale = _check_args(size, scale, mtf_nyquist)
    rng = np.random.default_rng(seed)
    res = 10.0 / scale
    hr = render_landscape(rng, size, res)
    sensor = SensorModel(scale, mtf_nyquist)
    ang = rng.uniform(0, 2 * math.pi)
    mag = rng.uniform(0.1, 0.5)
    shift = (round(mag * math.cos(ang), 4), round(mag * math.sin(ang), 4))
    gains = tuple(round(float(g), 4) for g in rng.uniform(0.9, 1.1, size=4))
    offsets = tuple(round(float(o), 1) for o in rng.uniform(-60, 60, size=4))
    lr, cloud = _sensor_image(rng, hr, sensor, shift, gains, offsets)
    strip = _nodata_strip(rng, lr)
    created = not outdir.exists()
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{outdir}: cannot create the output folder ({e.strerror}); choose another OUTDIR") from None
    paths = SynthResult(outdir / "lr.tif", outdir / "hr.tif", outdir / "truth.json", shift, gains, offsets)
    truth = {
        "seed": seed, "size": size, "scale": scale, "hr_res": res, "lr_res": 10.0,
        "crs": f"EPSG:{CRS_EPSG}", "bands": list(DEFAULT_BANDS),
        "sensor": sensor.to_dict(),
        "shift_lr_px": {"dx": shift[0], "dy": shift[1],
                        "convention": "offset of LR content relative to HR, LR pixels, x east, y south"},
        "gains": list(gains), "offsets": list(offsets),
        "radiometry": "LR = gain * degrade(shift(HR)) + offset + noise",
        "cloud": cloud, "nodata_strip": strip, "version": __version__,
    }
    _write_all(paths, hr, lr, res, json.dumps(truth, indent=2), created)
    log.info("synth: wrote %s (HR %d px at %.2f m, LR %d px at 10 m), shift %s", outdir, size, res, size // scale, shift)
    return paths


def _check_args(size: int, scale: int | str, mtf: float) -> int:
    scale = check_scale(scale)
    if size % scale or size < 16 * scale:
        raise ConfigError(f"--size {size}: must be a multiple of --scale {scale} and >= {16 * scale}; e.g. --size 2048")
    if not 0 < mtf < 1:
        raise ConfigError(f"--mtf {mtf}: must be in (0, 1), e.g. 0.3")
    return scale


# ---- landscape -------------------------------------------------------------------------
# ---- sensor ----------------------------------------------------------------------------
def _sensor_image(
    rng: np.random.Generator, hr: np.ndarray, sensor: SensorModel,
    shift: tuple[float, float], gains: tuple[float, ...], offsets: tuple[float, ...],
) -> tuple[np.ndarray, dict[str, float]]:
    """Shift on the fine grid, degrade, apply gain/offset, add a cloud and noise."""
    lr = degrade_shifted(hr, sensor, shift[0] * sensor.scale, shift[1] * sensor.scale).astype(np.float64)
    g = np.asarray(gains)[:, None, None]
    o = np.asarray(offsets)[:, None, None]
    lr = g * lr + o
    n = lr.shape[-1]
    cy, cx = rng.uniform(0.15, 0.85, size=2) * n
    rad = max(2.0, 0.04 * n)
    rr, cc = grid_coords(n)
    cloud = np.exp(-0.5 * (np.hypot(rr - cy, cc - cx) / rad) ** 4)
    lr = lr * (1 - cloud) + 7000.0 * cloud
    lr += rng.normal(0.0, 1.0, lr.shape) * (6.0 + 0.004 * np.abs(lr))
    info = {"row": round(float(cy), 2), "col": round(float(cx), 2), "radius_lr_px": round(rad, 2)}
    return np.clip(np.rint(lr), 1, 65535).astype(np.uint16), info


def degrade_shifted(hr: np.ndarray, sensor: SensorModel, dx: float, dy: float) -> np.ndarray:
    """``sensor.degrade(shift(hr, (dy, dx)))`` for a sub-pixel shift in fine pixels.

    Shift and Gaussian blur commute, so the shift is applied exactly by sampling the
    blur kernel at the shifted positions (no interpolation kernel of its own): the
    content moves by +dx columns (east) and +dy rows (south).
    """
    from scipy.ndimage import convolve1d

    x = np.asarray(hr, dtype=np.float32)
    s = sensor.scale
    x = convolve1d(x, _shifted_kernel(sensor.sigma_hr, dx).astype(np.float32), axis=-1, mode="mirror")
    x = x.reshape(*x.shape[:-1], x.shape[-1] // s, s).mean(axis=-1)  # area mean along x first
    x = convolve1d(x, _shifted_kernel(sensor.sigma_hr, dy).astype(np.float32), axis=-2, mode="mirror")
    return _rows_mean(x, s)


def _rows_mean(x: np.ndarray, s: int) -> np.ndarray:
    *lead, h, w = x.shape
    return x.reshape(*lead, h // s, s, w).mean(axis=-2, dtype=np.float64).astype(np.float32)


def _shifted_kernel(sigma: float, t: float) -> np.ndarray:
    radius = int(math.ceil(3.0 * sigma + abs(t)))
    i = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * ((i - t) / sigma) ** 2)
    return k / k.sum()


def _nodata_strip(rng: np.random.Generator, lr: np.ndarray) -> dict[str, float | str]:
    """Set a diagonal wedge along the west edge to nodata (0), like an S2 tile edge."""
    n = lr.shape[-1]
    top = rng.uniform(0.03, 0.08) * n
    bottom = rng.uniform(0.0, 0.03) * n
    rr, cc = grid_coords(n)
    edge = top + (bottom - top) * rr / max(n - 1, 1)
    lr[:, cc < edge] = NODATA
    return {"side": "west", "cols_at_top": round(float(top), 2), "cols_at_bottom": round(float(bottom), 2)}


def _write_all(paths: SynthResult, hr: np.ndarray, lr: np.ndarray, res: float, truth: str, created: bool) -> None:
    """Write the three files; on failure remove those this call wrote (and OUTDIR if it made it)."""
    from s2sr.io.atomic import atomic_file

    written: list[Path] = []
    try:
        for path, data, r in ((paths.hr, hr, res), (paths.lr, lr, 10.0)):
            _write(path, data, r)
            written.append(path)
        with atomic_file(paths.truth) as tmp:
            tmp.write_text(truth)
    except BaseException:
        for p in written:
            p.unlink(missing_ok=True)
        outdir = paths.truth.parent
        if created and outdir.is_dir() and not any(outdir.iterdir()):
            outdir.rmdir()
        raise


SYNTHETIC_ATTRIBUTION = "Synthetic scene made by s2sr synth (no real imagery)"


def _write(path: Path, data: np.ndarray, res: float) -> None:
    import rasterio
    from affine import Affine
    from rasterio.crs import CRS

    from s2sr.io.atomic import atomic_file
    from s2sr.io.gdal_errors import gdal_writing

    _, h, w = data.shape
    tile = 256 if min(h, w) >= 256 else 16 * max(1, min(h, w) // 16)
    prof = dict(driver="GTiff", width=w, height=h, count=data.shape[0], dtype="uint16",
                crs=CRS.from_epsg(CRS_EPSG), transform=Affine(res, 0, ORIGIN[0], 0, -res, ORIGIN[1]),
                nodata=NODATA, tiled=True, blockxsize=tile, blockysize=tile,
                compress="deflate", predictor=2, zlevel=1)
    with atomic_file(path) as tmp, gdal_writing(path), rasterio.open(tmp, "w", **prof) as ds:
        ds.write(data)
        ds.descriptions = DEFAULT_BANDS
        ds.update_tags(ATTRIBUTION=SYNTHETIC_ATTRIBUTION)
