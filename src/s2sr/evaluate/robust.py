"""Scores a model's own assumption cannot fool: the input made by *named* degradations (members of
:mod:`s2sr.sensor.family`, inside and outside what the model was trained with), from a real
Sentinel-2 image (Wald: the 10 m image is the reference) or from a real finer image at the model's
output pixel size (cross-sensor: the aerial image is the reference).

Every output is made by ``s2sr apply``'s own code (:func:`s2sr.evaluate.sr.super_resolve`) from
an input written as a GeoTIFF, so the pixels scored are the pixels users get; bicubic and lanczos
are GDAL's, on the same input. PSNR and SSIM use per-band peaks (the reference's 0.1-99.9 % range),
PSNR is the mean over the scored bands; a border of ``border`` LR px is left out for every method.
Images are held in memory: this is for evaluation scenes (up to a few thousand pixels a side).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import rasterio
from affine import Affine

from s2sr.evaluate.baselines import resample
from s2sr.evaluate.metrics import sam, ssim
from s2sr.sensor.family import Degradation

if TYPE_CHECKING:  # pragma: no cover
    from s2sr.bundle import ModelBundle

METHODS = ("model", "bicubic", "lanczos")
# B8 from B2, B3, B4 (least squares on the train cities of s2_cities_wald.toml, `prepare --finer`'s
# log): the input NIR of an RGB finer image; never scored
NIR_FROM_RGB = (1610.8, -3.795, 5.327, -0.945)


@dataclass
class Reference:
    """A reference image on the fine grid (C, H, W) in the model's units, and which bands count."""

    name: str
    data: np.ndarray
    transform: Affine
    crs: Any
    scored: list[int]  # 0-based bands with a real reference


def super_resolve_array(bundle: ModelBundle, lr: np.ndarray, transform: Affine, crs: Any, workdir: Path) -> np.ndarray:
    """SR of an in-memory LR array through ``apply``'s code; float32 model values (not rounded)."""
    from s2sr.evaluate.sr import super_resolve

    lr_path, sr_path = workdir / "lr.tif", workdir / "sr.tif"
    arr = np.clip(np.rint(lr), 0, 65535).astype("uint16")
    prof = dict(driver="GTiff", width=arr.shape[2], height=arr.shape[1], count=arr.shape[0], dtype="uint16",
                transform=transform, crs=crs, tiled=True, blockxsize=256, blockysize=256)
    with rasterio.open(lr_path, "w", **prof) as ds:
        ds.write(arr)
    super_resolve(bundle, lr_path, sr_path, list(range(1, arr.shape[0] + 1)), progress=False, input_check="skip")
    with rasterio.open(sr_path) as ds:
        out = ds.read().astype(np.float32)
    sr_path.unlink()
    return out


def peaks(ref: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(ref.reshape(ref.shape[0], -1), [0.1, 99.9], axis=1)
    return np.maximum(hi - lo, 1.0)


def scores(pred: np.ndarray, ref: np.ndarray, bands: list[int], border: int) -> dict[str, Any]:
    """PSNR (mean over bands, and per band), SSIM, SAM of ``pred`` against ``ref`` on ``bands``."""
    b = border
    p = pred[bands, b:-b or None, b:-b or None].astype(np.float64)
    r = ref[bands, b:-b or None, b:-b or None].astype(np.float64)
    L = peaks(r)
    mse = ((p - r) ** 2).reshape(len(bands), -1).mean(axis=1)
    per = 10 * np.log10(L**2 / np.maximum(mse, 1e-12))
    return {"psnr": float(per.mean()), "psnr_per_band": [float(v) for v in per],
            "ssim": float(np.mean([ssim(p[i], r[i], float(L[i])) for i in range(len(bands))])),
            "sam": sam(p, r) if len(bands) > 1 else None}


def score_member(bundle: ModelBundle, ref: Reference, member: Degradation, seed: int, border_lr: int,
                 workdir: Path) -> dict[str, Any]:
    """One row: the input made by ``member`` from ``ref``, each method scored against ``ref``."""
    s = bundle.scale
    lr = member.apply(ref.data, s, np.random.default_rng(seed))
    lr_t = ref.transform @ Affine.scale(s)
    out = {"model": super_resolve_array(bundle, lr, lr_t, ref.crs, workdir)}
    shape = ref.data.shape[1:]
    for m in ("bicubic", "lanczos"):
        out[m] = resample(lr, lr_t, ref.transform, shape, m, ref.crs)
    row: dict[str, Any] = {"degradation": member.name, "params": member.to_dict(),
                           "system_mtf": list(member.system_mtf)}
    for m, pred in out.items():
        row[m] = scores(pred, ref.data, ref.scored, border_lr * s)
    row["gain_db"] = row["model"]["psnr"] - row["bicubic"]["psnr"]
    row["gain_vs_lanczos_db"] = row["model"]["psnr"] - row["lanczos"]["psnr"]
    row["gain_per_band_db"] = [a - b for a, b in zip(row["model"]["psnr_per_band"], row["bicubic"]["psnr_per_band"],
                                                      strict=True)]
    return row


def score_members(bundle: ModelBundle, ref: Reference, members: list[Degradation], seed: int = 0,
                  border_lr: int = 8) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="s2sr-robust-") as tmp:
        return [score_member(bundle, ref, m, seed, border_lr, Path(tmp)) for m in members]


def wald_reference(path: Path, bands: list[int], scale: int) -> Reference:
    """A Sentinel-2 image (its bands in the model's order) cropped to a multiple of ``scale``."""
    with rasterio.open(path) as ds:
        d = ds.read(bands).astype(np.float32)
        h, w = (ds.height // scale) * scale, (ds.width // scale) * scale
        return Reference(path.stem, d[:, :h, :w], ds.transform, ds.crs, list(range(len(bands))))


def _longest_run(ok: np.ndarray) -> tuple[int, int]:
    best: tuple[int, int] = (0, 0)
    start: int | None = None
    for i, v in enumerate([*ok.tolist(), False]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            if i - start > best[1] - best[0]:
                best = (start, i)
            start = None
    return best


def valid_window(valid: np.ndarray, scale: int) -> tuple[int, int, int, int]:
    """A large window (r0, r1, c0, c1) of a mask with every pixel valid, sides multiples of ``scale``:
    the longest run of fully valid rows, then of columns within it (or columns first, whichever is larger)."""
    best = (0, 0, 0, 0)
    for rows_first in (True, False):
        v = valid if rows_first else valid.T
        a0, a1 = _longest_run(np.asarray(v.all(axis=1)))
        b0, b1 = _longest_run(np.asarray(v[a0:a1].all(axis=0))) if a1 > a0 else (0, 0)
        win = (a0, a1, b0, b1) if rows_first else (b0, b1, a0, a1)
        if (win[1] - win[0]) * (win[3] - win[2]) > (best[1] - best[0]) * (best[3] - best[2]):
            best = win
    r0, r1, c0, c1 = best
    r0, c0 = -(-r0 // scale) * scale, -(-c0 // scale) * scale
    return r0, r0 + max(0, (r1 - r0) // scale * scale), c0, c0 + max(0, (c1 - c0) // scale * scale)


def aerial_reference(path: Path, bundle: ModelBundle, bands: str = "auto") -> Reference:
    """A finer image area-averaged to the model's output pixel size and mapped to its units.

    Per band, the image degraded to the input pixel size is mapped onto the model's training input
    (its p01, p50 and p99, ``input_stats``) by a least-squares line: the units of the input, not a
    claim about the ground (an equivariant model's scores do not depend on them, bicubic's neither;
    they set what the noise members and the rounding do). RGB images get the pseudo-NIR
    :data:`NIR_FROM_RGB` as input and are scored on B2, B3, B4 only.
    """
    from s2sr.data.finer.targets import resample as to_res

    if bundle.input_res is None:
        raise ValueError(f"{bundle.path}: the model records no input pixel size; the aerial mode needs it")
    with rasterio.open(path) as ds:
        kind = bands if bands != "auto" else ("rgbn" if ds.count >= 4 else "rgb")
    res = bundle.input_res / bundle.scale
    d, valid, t, crs = to_res(path, kind, res)
    s = bundle.scale
    h, w = (d.shape[1] // s) * s, (d.shape[2] // s) * s
    d, valid = d[:, :h, :w], valid[:h, :w]
    if not valid.all():
        r0, r1, c0, c1 = valid_window(valid, s)
        if min(r1 - r0, c1 - c0) < 16 * s:
            raise ValueError(f"{path}: no fully valid window of 16 LR px at {res:g} m for a pair")
        d, t = d[:, r0:r1, c0:c1], t @ Affine.translation(c0, r0)
    if min(d.shape[1:]) < 24 * s:
        raise ValueError(f"{d.shape[2]}x{d.shape[1]} px at {res:g} m (fully valid): fewer than 24 LR px a side, "
                         "too small to score with an 8 px border")
    stats = bundle.input_stats
    lr = Degradation("mtf0.3", 0.3, 0.3, quantise=False).blur_area(d, s)
    mapped = np.empty_like(d, dtype=np.float32)
    for b in range(d.shape[0]):
        q = np.percentile(lr[b], [1, 50, 99])
        target = [stats["p01"][b], stats["p50"][b], stats["p99"][b]]
        g, o = np.polyfit(q, target, 1)
        mapped[b] = (d[b] * g + o).astype(np.float32)
    if kind == "rgb":
        c = NIR_FROM_RGB
        nir = c[0] + c[1] * mapped[0] + c[2] * mapped[1] + c[3] * mapped[2]
        mapped = np.concatenate([mapped, nir[None]])
    return Reference(path.stem, np.maximum(mapped, 0.0), t, crs, [0, 1, 2] if kind == "rgb" else [0, 1, 2, 3])
