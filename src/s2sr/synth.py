"""A synthetic LR/HR pair with known truth: the demo's training scene.

``hr.tif`` is a landscape on a 10/scale m UTM grid: crop fields with row texture,
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
from scipy import ndimage

from s2sr._version import __version__
from s2sr.bands import DEFAULT_BANDS
from s2sr.errors import ConfigError, OutputError
from s2sr.grid import check_scale
from s2sr.sensor import SensorModel

log = logging.getLogger(__name__)

CRS_EPSG = 32631
ORIGIN = (600000.0, 5400000.0)  # upper-left corner, on a 10 m multiple
NODATA = 0

# Surface reflectance x 10000, bands B2, B3, B4, B8.
CLASSES: dict[str, tuple[float, float, float, float]] = {
    "crop_green": (350, 650, 400, 4200),
    "crop_ripe": (650, 950, 1150, 2900),
    "bare_soil": (1050, 1350, 1750, 2400),
    "grass": (450, 750, 550, 3300),
    "forest": (250, 450, 300, 3000),
    "water": (550, 650, 450, 150),
    "road": (950, 1050, 1150, 1350),
    "paved": (900, 1000, 1050, 1500),
    "roof_tile": (800, 950, 1650, 2100),
    "roof_grey": (1400, 1500, 1600, 1900),
    "roof_bright": (2200, 2300, 2400, 2600),
}
RURAL = ("crop_green", "crop_ripe", "bare_soil", "grass", "forest")
RURAL_P = (0.3, 0.2, 0.17, 0.13, 0.2)


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
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{outdir}: cannot create the output folder ({e.strerror}); choose another OUTDIR") from None
    paths = SynthResult(outdir / "lr.tif", outdir / "hr.tif", outdir / "truth.json", shift, gains, offsets)
    _write(paths.hr, hr, res)
    _write(paths.lr, lr, 10.0)
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
    paths.truth.write_text(json.dumps(truth, indent=2))
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
def render_landscape(rng: np.random.Generator, size: int, res: float) -> np.ndarray:
    """(4, size, size) uint16 HR landscape at ``res`` metres per pixel (values >= 1)."""
    parcels, roads = _parcels(rng, size, res)
    parcels, roads = _warp(rng, [parcels, roads], size, res)
    img = _rural(rng, parcels, size, res)
    town = _town_mask(rng, parcels, size)
    _paint_town(rng, img, town, size, res)
    water = _water(rng, size, res) & ~town
    _paint(img, water, "water", 1.0 + 0.02 * _noise(rng, size, 3.0))
    road = roads.astype(bool)
    _paint(img, road, "road", 1.0 + 0.03 * _white(rng, size))
    return np.clip(np.rint(img), 1, 65535).astype(np.uint16)


def _noise(rng: np.random.Generator, size: int, sigma_px: float) -> np.ndarray:
    """Smooth zero-mean, unit-std noise with correlation length ``sigma_px``.

    Large correlation lengths are made on a coarser grid and upsampled (fast).
    """
    step = max(1, int(sigma_px // 2))
    n_small = -(-size // step)
    n = rng.standard_normal((n_small, n_small), dtype=np.float32)
    if sigma_px / step > 0.3:
        n = ndimage.gaussian_filter(n, sigma_px / step)
    if step > 1:
        n = ndimage.zoom(n, step, order=1, grid_mode=True, mode="nearest")[:size, :size]
    return (n - n.mean()) / (n.std() + 1e-6)


def _grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Row (n, 1) and column (1, n) float32 coordinates that broadcast to (n, n)."""
    i = np.arange(n, dtype=np.float32)
    return i[:, None], i[None, :]


def _white(rng: np.random.Generator, size: int) -> np.ndarray:
    return rng.standard_normal((size, size), dtype=np.float32)


def _coarse_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Very smooth noise: a ``cells`` x ``cells`` random field, smoothed, upsampled to size."""
    c = ndimage.gaussian_filter(rng.standard_normal((cells, cells), dtype=np.float32), 1.0, mode="wrap")
    z = ndimage.zoom(c, size / cells, order=1, mode="nearest", grid_mode=True)[:size, :size]
    return (z - z.mean()) / (z.std() + 1e-6)


def _parcels(rng: np.random.Generator, size: int, res: float) -> tuple[np.ndarray, np.ndarray]:
    """Recursive splits into field parcels; the first few split lines become roads."""
    labels = np.zeros((size, size), np.int32)
    roads = np.zeros((size, size), np.uint8)
    min_px = max(8, int(90 / res))
    max_px = max(2 * min_px, int(450 / res))
    half = max(1, int(round(3.0 / res)))
    stack = [(0, size, 0, size, 0)]
    n = 0
    while stack:
        r0, r1, c0, c1, depth = stack.pop()
        h, w = r1 - r0, c1 - c0
        if max(h, w) < 2 * min_px or (max(h, w) <= max_px and depth >= 3 and rng.random() < 0.3):
            labels[r0:r1, c0:c1] = n
            n += 1
            continue
        along_rows = h > w if abs(h - w) > min(h, w) * 0.2 else rng.random() < 0.5
        lo, hi = (r0, r1) if along_rows else (c0, c1)
        cut = int(lo + (hi - lo) * rng.uniform(0.3, 0.7))
        if depth < 3:
            if along_rows:
                roads[max(cut - half, 0):cut + half, c0:c1] = 1
            else:
                roads[r0:r1, max(cut - half, 0):cut + half] = 1
        if along_rows:
            stack += [(r0, cut, c0, c1, depth + 1), (cut, r1, c0, c1, depth + 1)]
        else:
            stack += [(r0, r1, c0, cut, depth + 1), (r0, r1, cut, c1, depth + 1)]
    return labels, roads


def _warp(rng: np.random.Generator, layers: list[np.ndarray], size: int, res: float) -> list[np.ndarray]:
    """Bend straight parcel edges with a smooth displacement field (nearest-neighbour)."""
    amp = 25.0 / res
    cells = max(4, size // max(8, int(400 / res)))
    dy = _coarse_noise(rng, size, cells) * amp
    dx = _coarse_noise(rng, size, cells) * amp
    rr, cc = _grid(size)
    coords = np.stack([rr + dy, cc + dx])
    return [ndimage.map_coordinates(a, coords, order=0, mode="mirror") for a in layers]


def _paint(img: np.ndarray, mask: np.ndarray, cls: str, factor: np.ndarray | float = 1.0) -> None:
    refl = np.asarray(CLASSES[cls], np.float32)[:, None]
    f = factor[mask] if isinstance(factor, np.ndarray) else factor
    img[:, mask] = refl * f


def _rural(rng: np.random.Generator, parcels: np.ndarray, size: int, res: float) -> np.ndarray:
    """Per-parcel class and brightness, plus class texture (crop rows, forest crowns)."""
    n = int(parcels.max()) + 1
    cls = rng.choice(len(RURAL), size=n, p=RURAL_P)
    table = np.asarray([CLASSES[c] for c in RURAL], np.float32)  # (5, 4)
    gain = rng.normal(1.0, 0.08, size=(n, 1)).astype(np.float32)
    per_parcel = table[cls] * gain  # (n, 4)
    img = per_parcel[parcels].transpose(2, 0, 1).copy()  # (4, H, W)
    cls_img = cls[parcels]
    # crop rows: stripes of 8-14 m period, one direction per parcel
    theta = rng.uniform(0, math.pi, size=n).astype(np.float32)[parcels]
    period = (rng.uniform(8, 14, size=n) / res).astype(np.float32)[parcels]
    rr, cc = _grid(size)
    stripes = np.sin(2 * math.pi * (cc * np.cos(theta) + rr * np.sin(theta)) / period)
    crowns = _noise(rng, size, 2.5 / res)
    tex = 1.0 + 0.05 * _noise(rng, size, 12.0 / res) + 0.04 * crowns
    crops = cls_img <= 1
    tex[crops] += 0.07 * stripes[crops]
    forest = cls_img == 4
    tex[forest] = 1.0 + 0.25 * crowns[forest] - 0.25 * (crowns[forest] < -1.0)
    soil = cls_img == 2
    tex[soil] += 0.06 * rng.standard_normal(int(soil.sum()), dtype=np.float32)
    return img * tex[None]


def _town_mask(rng: np.random.Generator, parcels: np.ndarray, size: int) -> np.ndarray:
    """Parcels near one or two town centres become urban."""
    n = int(parcels.max()) + 1
    idx = np.arange(size, dtype=np.float64)
    flat = parcels.ravel()
    cnt = np.bincount(flat, minlength=n) + 1e-9
    pr = np.bincount(flat, np.repeat(idx, size), minlength=n) / cnt
    pc = np.bincount(flat, np.tile(idx, size), minlength=n) / cnt
    urban = np.zeros(n, bool)
    for k in range(1 + size // 1500):
        cy, cx = rng.uniform(0.2, 0.8, size=2) * size
        radius = rng.uniform(0.2, 0.26) * size / (1 + 0.4 * k)
        urban |= np.hypot(pr - cy, pc - cx) < radius * rng.uniform(0.8, 1.2, size=n)
    return urban[parcels]


def _paint_town(rng: np.random.Generator, img: np.ndarray, town: np.ndarray, size: int, res: float) -> None:
    """Street grid, small buildings with three roof types, and their shadows."""
    cell = max(4, int(round(14.0 / res)))
    nc = size // cell + 1
    idx = np.arange(size, dtype=np.int32)
    ci, cj = (idx // cell)[:, None], (idx // cell)[None, :]
    li, lj = (idx % cell)[:, None], (idx % cell)[None, :]
    street = town & (((ci % 5 == 0) & (li < cell // 3)) | ((cj % 6 == 0) & (lj < cell // 3)))
    _paint(img, town, "paved", 1.0 + 0.04 * _white(rng, size))
    bh = rng.integers(max(2, cell // 2), cell, size=(nc, nc))
    bw = rng.integers(max(2, cell // 2), cell, size=(nc, nc))
    oi = (rng.random((nc, nc)) * (cell - bh + 1)).astype(int)
    oj = (rng.random((nc, nc)) * (cell - bw + 1)).astype(int)
    exists = rng.random((nc, nc)) < 0.8
    roof = rng.integers(0, 3, size=(nc, nc))
    bld = town & ~street & exists[ci, cj]
    bld &= (li >= oi[ci, cj]) & (li < oi[ci, cj] + bh[ci, cj])
    bld &= (lj >= oj[ci, cj]) & (lj < oj[ci, cj] + bw[ci, cj])
    # sun in the south-east: shadows fall to the north-west of each building
    length = max(1, int(round(4.0 / res)))
    shadow = np.zeros_like(bld)
    for k in range(1, length + 1):
        shadow[:-k, :-k] |= bld[k:, k:]
    shadow &= ~bld & town
    _paint(img, street, "road", 1.0 + 0.03 * _white(rng, size))
    roof_img = roof[ci, cj]
    shade = 1.0 + 0.05 * _white(rng, size)
    for k, name in enumerate(("roof_tile", "roof_grey", "roof_bright")):
        _paint(img, bld & (roof_img == k), name, shade)
    img[:, shadow] *= 0.35


def _water(rng: np.random.Generator, size: int, res: float) -> np.ndarray:
    """A meandering river and a lake (smooth blob)."""
    rr, cc = _grid(size)
    x0 = rng.uniform(0.15, 0.85) * size
    amp = rng.uniform(40, 120) / res
    wl = rng.uniform(600, 1200) / res
    phase = rng.uniform(0, 2 * math.pi)
    centre = x0 + amp * np.sin(2 * math.pi * rr / wl + phase)
    width = rng.uniform(20, 40) / res
    river = np.abs(cc - centre) < width / 2
    lake_c = rng.uniform(0.1, 0.9, size=2) * size
    lake_r = rng.uniform(150, 300) / res
    blob = np.hypot(rr - lake_c[0], cc - lake_c[1]) / lake_r
    wobble = 0.25 * _coarse_noise(rng, size, max(4, size // 128))
    return river | (blob + wobble < 1.0)


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
    rr, cc = _grid(n)
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
    rr, cc = _grid(n)
    edge = top + (bottom - top) * rr / max(n - 1, 1)
    lr[:, cc < edge] = NODATA
    return {"side": "west", "cols_at_top": round(float(top), 2), "cols_at_bottom": round(float(bottom), 2)}


def _write(path: Path, data: np.ndarray, res: float) -> None:
    import rasterio
    from affine import Affine
    from rasterio.crs import CRS

    from s2sr.io.atomic import atomic_file

    _, h, w = data.shape
    tile = 256 if min(h, w) >= 256 else 16 * max(1, min(h, w) // 16)
    prof = dict(driver="GTiff", width=w, height=h, count=data.shape[0], dtype="uint16",
                crs=CRS.from_epsg(CRS_EPSG), transform=Affine(res, 0, ORIGIN[0], 0, -res, ORIGIN[1]),
                nodata=NODATA, tiled=True, blockxsize=tile, blockysize=tile,
                compress="deflate", predictor=2, zlevel=1)
    with atomic_file(path) as tmp, rasterio.open(tmp, "w", **prof) as ds:
        ds.write(data)
        ds.descriptions = DEFAULT_BANDS
