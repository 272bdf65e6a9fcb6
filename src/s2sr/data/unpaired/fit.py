"""The HR -> Sentinel-2 degradation fitted from unpaired images: MTF, noise, radiometry.

Order: a first noise estimate per S2 image (it sets the contrast an edge needs), the MTF from
the S2 edges (:mod:`.mtf`), then per HR image the radiometry (:mod:`.radiometry`: the HR
degraded to the S2 pixel size by the fitted MTF, matched to all S2 pixels), and last the noise
with the degraded, mapped HR as the texture reference (:mod:`.noise`). S2 images are processed
one at a time and only their statistics kept, so memory holds one image.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.ndimage import minimum_filter

from s2sr.data.unpaired.inputs import HRImage, S2Image
from s2sr.data.unpaired.mtf import MIN_EDGES, EdgeFitSettings, MTFFit, edge_sigmas, mtf_from_sigmas
from s2sr.data.unpaired.noise import NoiseFit, block_stats, fit_noise, noise_from_blocks
from s2sr.data.unpaired.radiometry import RadiometryFit, fit_radiometry
from s2sr.errors import InputError
from s2sr.sensor import SensorModel, area_downsample

log = logging.getLogger(__name__)
SAMPLES_PER_IMAGE = 200_000


@dataclass(frozen=True)
class DegradationFit:
    """Everything the pseudo-pairs are made with."""

    mtf_nyquist: float
    mtf: MTFFit | None  # None when --mtf gave it
    noise: NoiseFit
    radiometry: dict[str, RadiometryFit]  # per HR image name
    match_factor: int  # HR fine pixels per S2 pixel in the radiometry and noise matching

    def to_dict(self) -> dict[str, Any]:
        return {"mtf_nyquist": round(self.mtf_nyquist, 4),
                "mtf": self.mtf.to_dict() if self.mtf else {"source": "--mtf (given, not fitted)"},
                "noise": self.noise.to_dict(), "radiometry": {k: v.to_dict() for k, v in self.radiometry.items()},
                "match_factor": self.match_factor}


@dataclass
class _S2Stats:
    sigmas: list[float]
    fitted: int
    per_image: list[int]
    blocks: list[list[tuple[np.ndarray, np.ndarray]]]  # per band, per image
    samples: list[tuple[np.ndarray, np.ndarray]]  # (bands, n, 1) pixel samples, all valid


def s2_statistics(images: Iterable[S2Image], n_images: int, fit_edges: bool,
                  settings: EdgeFitSettings | None = None) -> tuple[_S2Stats, list[str]]:
    """Edge sigmas, noise block statistics and pixel samples of each S2 image, read one at a time."""
    st = settings or EdgeFitSettings()
    out = _S2Stats([], 0, [], [], [])
    paths = []
    rng = np.random.default_rng(0)
    for im in images:
        paths.append(im.path)
        nb = len(im.data)
        if not out.blocks:
            out.blocks = [[] for _ in range(nb)]
        for b in range(nb):
            out.blocks[b].append(block_stats(im.data[b], im.valid))
        kept = 0
        if fit_edges:
            rough = fit_noise([(im.data, im.valid)]).std_median
            each = max(10, min(st.candidates, st.max_fits // max(n_images * nb, 1)))
            for b in range(nb):
                s, n = edge_sigmas(im.data[b], im.valid, rough[b], st, each)
                out.sigmas += s
                out.fitted += n
                kept += len(s)
        out.per_image.append(kept)
        px = im.data[:, im.valid]
        if px.shape[1] > SAMPLES_PER_IMAGE:
            px = px[:, rng.choice(px.shape[1], SAMPLES_PER_IMAGE, replace=False)]
        out.samples.append((px[:, :, None], np.ones((px.shape[1], 1), bool)))
        log.info("%s: %d valid pixels, %d straight edges kept", im.path, int(im.valid.sum()), kept)
    return out, paths


def degrade_valid(data: np.ndarray, valid: np.ndarray, sensor: SensorModel) -> tuple[np.ndarray, np.ndarray]:
    """``sensor.degrade`` of an HR array, and the LR pixels whose whole blur support is valid (mirrored at
    the image edges, as the blur is: the Wald convention of :mod:`s2sr.data.wald`)."""
    m = sensor.radius_hr
    lr = sensor.degrade(data).astype(np.float64)
    ok = minimum_filter(valid.astype(np.uint8), size=2 * m + 1, mode="mirror").astype(np.float32)
    return lr, area_downsample(ok[None], sensor.scale)[0] >= 1.0


def match_factor(s2_res: float, fine_res: float, scale: int) -> int:
    """Fine pixels per S2 pixel when that is a whole number >= 2, else ``scale`` (the pseudo-LR grid)."""
    f = s2_res / fine_res
    k = int(round(f))
    return k if k >= 2 and abs(f - k) < 0.02 else scale


def fit_degradation(s2: Callable[[], Iterable[S2Image]], n_s2: int, hr: list[HRImage], s2_res: float,
                    fine_res: float, scale: int, mtf_given: float | None, seed: int = 0,
                    edge_fits: int = 4000) -> DegradationFit:
    """Fit MTF, noise and per-HR-image radiometry (see the module doc); ``s2`` yields the S2 images."""
    st = EdgeFitSettings(max_fits=edge_fits)
    stats, paths = s2_statistics(s2(), n_s2, mtf_given is None, st)
    mtf = None
    if mtf_given is None:
        mtf = mtf_from_sigmas(stats.sigmas, stats.fitted, stats.per_image, st)
        if mtf is None:
            raise InputError(
                f"{', '.join(paths)}: {len(stats.sigmas)} straight edges found, {MIN_EDGES} needed to fit the "
                "MTF; add more or larger --lr images (fields, roads, buildings), or pass a known --mtf (e.g. 0.3)")
        log.info("MTF at Nyquist %.3f (sigma %.3f LR px, %d edges of %d windows)", mtf.mtf_nyquist, mtf.sigma_lr,
                 mtf.edges, mtf.candidates)
    # rounded as recorded: the sensor model of the pseudo-pairs, prepare.json and the model are one value
    m = round(mtf.mtf_nyquist, 4) if mtf is not None else float(mtf_given)  # type: ignore[arg-type]
    k = match_factor(s2_res, fine_res, scale)
    sensor = SensorModel(k, m)
    rad, refs = {}, []
    for im in hr:
        lr, ok = degrade_valid(im.data, im.valid, sensor)
        rad[im.name] = fit_radiometry(stats.samples, [(lr, ok)], seed=seed)
        refs.append((rad[im.name].apply(lr).astype(np.float64), ok))
        log.info("%s: LR = gain * HR + offset, gains %s offsets %s", im.path,
                 [round(g, 4) for g in rad[im.name].gains], [round(o, 1) for o in rad[im.name].offsets])
    nb = len(stats.blocks)
    ref_blocks = []
    for b in range(nb):
        rs = [block_stats(d[b], v) for d, v in refs]
        ref_blocks.append((np.concatenate([s for s, _ in rs]), np.concatenate([r for _, r in rs])))
    pooled = [(np.concatenate([s for s, _ in stats.blocks[b]]), np.concatenate([r for _, r in stats.blocks[b]]))
              for b in range(nb)]
    noise = noise_from_blocks(pooled, ref_blocks)
    log.info("noise std at the median signal %s", [round(v, 2) for v in noise.std_median])
    return DegradationFit(m, mtf, noise, rad, k)
