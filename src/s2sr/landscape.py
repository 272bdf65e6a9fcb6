"""The synthetic landscape of the demo scene, on a 10/scale m grid (reflectance x 10000, B2 B3 B4 B8).

Crop fields with row texture, bare soil, grass, textured forest, a river and a lake, rural
roads, and a town of small buildings (a few HR pixels each) with cast shadows; all seeded.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

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


def grid_coords(n: int) -> tuple[np.ndarray, np.ndarray]:
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
    rr, cc = grid_coords(size)
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
    rr, cc = grid_coords(size)
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
    rr, cc = grid_coords(size)
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
