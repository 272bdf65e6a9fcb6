"""The opensr-test 1.3.3 scores (``Metrics().compute()`` with its default ``Config``), reimplemented.

opensr-test (Aybar et al., 2024) does not install here (it needs torchvision, lpips,
open-clip, satalign), so its formulas are written out again; ``tests/evaluate/test_opensr.py``
checks them against values recorded by the package itself. Inputs are reflectance
(digital numbers / 10000), LR ``(C, h, w)`` and SR, HR ``(C, h*s, w*s)``. With the defaults:

* every image loses a 16-pixel border (4 LR pixels at x4) first (``border_mask``);
* ``lr_to_hr`` = LR upsampled by bilinear interpolation with antialiasing (torch
  ``interpolate``), ``sr_to_lr`` = SR downsampled the same way;
* **reflectance** = mean over LR pixels of the band-mean ``|LR - sr_to_lr|``;
* **spectral** = mean spectral angle (degrees) between LR and ``sr_to_lr``;
* **spatial** = length (LR pixels) of the phase-correlation shift between the band means of
  the first three bands of LR and ``sr_to_lr`` (NaN when it exceeds 5 px);
* **synthesis** = mean of the band-mean ``|SR_harm - lr_to_hr|`` (the detail SR adds);
* **correctness**: with ``nd(x, y)`` = band mean of ``|x - y| / |x + y|`` per pixel,
  ``d_ref = nd(lr_to_hr, HR)``, ``d_im = nd(SR_harm, HR)``, ``d_om = nd(SR_harm, lr_to_hr)``;
  pixels where any of the three exceeds the 75th percentile of ``d_ref`` (its k-th smallest
  value, k = int(0.75 N)) are kept; with ``a = d_im / d_ref`` and ``b = d_om / d_ref``:
  ``im = a + b (1 - exp(-0.05 (a + b - 1)))``, ``om = b + a (1 - exp(-0.05 (a + b - 1)))``,
  ``ha = exp(-0.05 a b)``; a softmin with temperature 0.25 over (im, om, ha) gives each
  pixel three weights, averaged over the kept pixels: **improvement**, **omission**,
  **hallucination** (they sum to 1).

``SR_harm`` is :func:`s2sr.evaluate.harmonise.harmonise`. ``valid`` (our addition) leaves
pixels out of every mean and of the percentile; the package itself has no nodata.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from s2sr.evaluate.harmonise import MAX_SHIFT, align, harmonise
from s2sr.sensor import area_downsample

SCORES = ("reflectance", "spectral", "spatial", "synthesis", "improvement", "omission", "hallucination")
# name -> "min" / "max" (better), or "" (no better direction: synthesis measures added detail)
SCORE_DIRECTION = {"reflectance": "min", "spectral": "min", "spatial": "min", "synthesis": "",
                   "improvement": "max", "omission": "min", "hallucination": "min"}
_EPS = 1e-8  # opensr-test FractionalDifference epsilon


@dataclass(frozen=True)
class OpensrParams:
    """opensr-test ``Config`` defaults used by the scores (``warp_steps``: see :mod:`~s2sr.evaluate.harmonise`)."""

    border: int = 16
    quantile: float = 0.75
    im_score: float = 0.05
    om_score: float = 0.05
    ha_score: float = 0.05
    temperature: float = 0.25
    max_shift: float = MAX_SHIFT
    warp_steps: int | None = None


DEFAULTS = OpensrParams()

def resize(x: np.ndarray, factor: float) -> np.ndarray:
    """(C, H, W) float32 resized by ``factor`` with torch bilinear interpolation, antialias on."""
    t = torch.from_numpy(np.ascontiguousarray(x, np.float32))[None]
    with torch.no_grad():
        y = torch.nn.functional.interpolate(t, scale_factor=factor, mode="bilinear", antialias=True)
    return y[0].numpy()


def l1_map(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-pixel band mean of ``|x - y|``."""
    return np.mean(np.abs(x.astype(np.float64) - y), axis=0)


def nd_map(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-pixel band mean of the normalised difference ``|x - y| / |x + y + 1e-8|``."""
    a, b = x.astype(np.float64), y.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels stay NaN
        return np.nanmean(np.abs(a - b) / np.abs(a + b + _EPS), axis=0)


def sad_map(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-pixel spectral angle (degrees); NaN where a spectrum is all zero."""
    a, b = x.astype(np.float64), y.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = np.sum(a * b, axis=0) / (np.linalg.norm(a, axis=0) * np.linalg.norm(b, axis=0))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def _mean(x: np.ndarray, keep: np.ndarray) -> float:
    v = x[keep]
    v = v[~np.isnan(v)]
    return float(v.mean()) if v.size else math.nan


def tc_scores(d_ref: np.ndarray, d_im: np.ndarray, d_om: np.ndarray, valid: np.ndarray,
              p: OpensrParams = DEFAULTS) -> dict[str, float]:
    """Improvement, omission, hallucination from the three distance maps (see the module doc)."""
    ok = valid & ~np.isnan(d_ref)
    n = int(ok.sum())
    k = int(p.quantile * n)
    if k < 1:
        return {"improvement": math.nan, "omission": math.nan, "hallucination": math.nan}
    thr = np.partition(d_ref[ok], k - 1)[k - 1]
    keep = ok & ((d_ref > thr) | (d_im > thr) | (d_om > thr))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        a, b = d_im / d_ref, d_om / d_ref
        h = a + b - 1
        im = a + b * (1 - np.exp(-h * p.im_score))
        om = b + a * (1 - np.exp(-h * p.om_score))
        ha = np.exp(-a * b * p.ha_score)
        w = np.exp(-np.stack([im, om, ha]) / p.temperature)
        w = w / w.sum(axis=0)
    return {"improvement": _mean(w[0], keep), "omission": _mean(w[1], keep), "hallucination": _mean(w[2], keep)}


def _crop(x: np.ndarray, b: int) -> np.ndarray:
    return x[..., b:-b, b:-b] if b > 0 else x


def opensr_scores(lr: np.ndarray, sr: np.ndarray, hr: np.ndarray, valid: np.ndarray | None = None,
                  params: OpensrParams = DEFAULTS) -> dict[str, float]:
    """The seven opensr-test scores of ``sr`` (see the module doc), in reflectance units / degrees / LR px."""
    if sr.shape != hr.shape or sr.shape[0] != lr.shape[0]:
        raise ValueError(f"SR {sr.shape} and HR {hr.shape} must match, with LR {lr.shape}'s bands")
    s = hr.shape[-1] // lr.shape[-1]
    if s < 1 or lr.shape[-1] * s != hr.shape[-1] or lr.shape[-2] * s != hr.shape[-2]:
        raise ValueError(f"HR {hr.shape} is not an integer multiple of LR {lr.shape}")
    bl = params.border // s
    lr_c, sr_c, hr_c = _crop(lr, bl), _crop(sr, bl * s), _crop(hr, bl * s)
    ok = np.ones(hr.shape[1:], bool) if valid is None else valid.astype(bool)
    ok = _crop(ok, bl * s)
    if min(lr_c.shape[1:]) < 1:
        raise ValueError(f"image {lr.shape} too small for a {params.border}-pixel border")
    ok_lr = area_downsample(ok.astype(np.float32), s) >= 1.0
    lr_to_hr = resize(lr_c, s)
    sr_to_lr = resize(sr_c, 1 / s)
    harm = harmonise(sr_c, hr_c, params.max_shift, params.warp_steps).image
    rgb = slice(0, 3) if lr.shape[0] >= 3 else slice(0, 1)
    shift = align(lr_c[rgb], sr_to_lr[rgb], params.max_shift)
    out = {
        "reflectance": _mean(l1_map(lr_c, sr_to_lr), ok_lr),
        "spectral": _mean(sad_map(lr_c, sr_to_lr), ok_lr),
        "spatial": float(np.hypot(*shift.shift)) if shift.ok else math.nan,
        "synthesis": _mean(l1_map(lr_to_hr, harm), ok),
    }
    out.update(tc_scores(nd_map(lr_to_hr, hr_c), nd_map(harm, hr_c), nd_map(harm, lr_to_hr), ok, params))
    return out
