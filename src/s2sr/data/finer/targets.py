"""Finer images as Sentinel-2-like targets: area-averaged to the target pixel size, in Sentinel-2
units per band, with a pseudo-NIR where the image has none.

- **Pixel size.** An integer factor from the native pixel (0.5 m -> 2.5 m: 5) is an exact block
  mean; a block touching nodata is nodata. Other factors use GDAL's ``average`` resampling.
- **Radiometry.** Per band ``S2 = gain * image + offset``, fitted by
  :func:`s2sr.data.unpaired.radiometry.fit_radiometry` (matched quantiles refined by spectral
  clusters) between the image degraded to 10 m and the Sentinel-2 reference scenes. A model that is
  equivariant to per-band gain and offset (``equisr``, ``equifine``) does not see these units; they
  set the signal-to-noise ratio of the simulated input, and the clipping at 0.
- **NIR.** RGB images get ``B8 = c0 + c1 B2 + c2 B3 + c3 B4`` (least squares on the reference
  pixels) so that the input has four plausible bands; its loss weight is 0 (:data:`RGB_WEIGHTS`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.enums import Resampling

from s2sr.data.unpaired.radiometry import RadiometryFit, fit_radiometry
from s2sr.errors import InputError
from s2sr.sensor.family import named

log = logging.getLogger(__name__)

RGB_WEIGHTS = (1.0, 1.0, 1.0, 0.0)  # B2, B3, B4 learned; the pseudo-NIR of an RGB image is not a target
ORDER = {"rgb": (3, 2, 1), "rgbn": (3, 2, 1, 4)}  # file bands (1-based) for B2, B3, B4[, B8]


@dataclass
class Target:
    """One finer image at one target pixel size, in Sentinel-2 units, (4, H, W) float32."""

    data: np.ndarray
    valid: np.ndarray
    transform: Affine
    crs_wkt: str | None
    res_m: float
    weights: tuple[float, ...]


def read_native(path: Path, bands: str) -> tuple[np.ndarray, np.ndarray, Affine, str | None, float]:
    """(bands in B2, B3, B4[, B8] order as float64, valid mask, transform, CRS WKT, pixel size m)."""
    with rasterio.open(path) as src:
        idx = ORDER[bands]
        if src.count < len(idx):
            raise InputError(f"{path}: {src.count} band(s), the list says {bands!r} ({len(idx)} bands); fix `bands`")
        data = src.read(list(idx)).astype(np.float64)
        valid = np.ones(data.shape[1:], bool) if src.nodata is None else (data != src.nodata).all(axis=0)
        res = float(abs(src.transform.a))
        return data, valid, src.transform, (src.crs.to_wkt() if src.crs else None), res


def block_mean(data: np.ndarray, valid: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean over k x k blocks; a block with any invalid pixel is invalid."""
    c, h, w = data.shape
    h2, w2 = h // k, w // k
    d = data[:, :h2 * k, :w2 * k].reshape(c, h2, k, w2, k).mean(axis=(2, 4))
    v = np.asarray(valid[:h2 * k, :w2 * k].reshape(h2, k, w2, k).all(axis=(1, 3)))
    return d, v


def resample(path: Path, bands: str, res_m: float) -> tuple[np.ndarray, np.ndarray, Affine, str | None]:
    """The image at ``res_m`` (block mean for an integer factor, else GDAL average)."""
    data, valid, t, crs, native = read_native(path, bands)
    k = res_m / native
    if k < 0.999:
        raise InputError(f"{path}: native pixel {native:g} m is coarser than the target {res_m:g} m; "
                         "drop that target size for this image")
    if abs(k - round(k)) < 1e-6:
        d, v = block_mean(data, valid, int(round(k)))
        return d, v, t @ Affine.scale(round(k)), crs
    with rasterio.open(path) as src:
        h, w = int(src.height / k), int(src.width / k)
        d = src.read(list(ORDER[bands]), out_shape=(len(ORDER[bands]), h, w), resampling=Resampling.average,
                     masked=True)
    v = np.asarray(~np.ma.getmaskarray(d).any(axis=0))
    return np.ma.filled(d, 0).astype(np.float64), v, t @ Affine.scale(src.width / w, src.height / h), crs


def fit_nir(reference: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, ...]:
    """Least-squares ``B8 ~ 1, B2, B3, B4`` on the valid pixels of (4, h, w) Sentinel-2 images."""
    px = np.concatenate([d[:, v].T for d, v in reference])
    px = px[np.random.default_rng(0).permutation(len(px))[:500_000]]
    a = np.column_stack([np.ones(len(px)), px[:, :3]])
    coef, *_ = np.linalg.lstsq(a, px[:, 3], rcond=None)
    return tuple(float(c) for c in coef)


def fit_image_radiometry(path: Path, bands: str, reference: list[tuple[np.ndarray, np.ndarray]],
                         res_m: float = 2.5, scale: int = 4) -> RadiometryFit:
    """Per-band lines mapping the image to the reference's units (its bands only, B2, B3, B4[, B8])."""
    d, v, _, _ = resample(path, bands, res_m)
    h, w = (d.shape[1] // scale) * scale, (d.shape[2] // scale) * scale
    lr = named("mtf0.3").blur_area(d[:, :h, :w], scale)
    lv = block_mean(d[:, :h, :w], v[:h, :w], scale)[1]
    nb = d.shape[0]
    ref = [(r[:nb], m) for r, m in reference]
    return fit_radiometry(ref, [(lr, lv)])


def make_target(path: Path, bands: str, res_m: float, radiometry: RadiometryFit,
                nir: tuple[float, ...]) -> Target:
    """The image at ``res_m`` in Sentinel-2 units, four bands (pseudo-NIR for RGB)."""
    d, v, t, crs = resample(path, bands, res_m)
    s2 = radiometry.apply(d)
    if bands == "rgb":
        b8 = nir[0] + nir[1] * s2[0] + nir[2] * s2[1] + nir[3] * s2[2]
        s2 = np.concatenate([s2, b8[None].astype(np.float32)])
        weights = RGB_WEIGHTS
    else:
        weights = (1.0, 1.0, 1.0, 1.0)
    s2 = np.maximum(s2, 0.0)
    s2[:, ~v] = 0.0
    return Target(s2.astype(np.float32), v, t, crs, res_m, weights)
