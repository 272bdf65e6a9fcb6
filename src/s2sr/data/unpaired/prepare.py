"""``prepare --unpaired``: Sentinel-2 images of some places, HR images of others -> pseudo-pairs.

1. Read and check the inputs (:mod:`.inputs`): the S2 pixel size fixes the model's input; the
   HR images are resampled to ``train_res / scale`` m (``train_res`` = the S2 pixel size unless
   ``--train-res`` asks for a coarser pseudo-LR, which lets coarser HR images take part, relying
   on the scale invariance the Wald protocol relies on too).
2. Fit the degradation (:mod:`.fit`): MTF and noise of the S2 images, radiometry per HR image.
3. Per HR image: the target is the HR mapped to S2 units; the pseudo-LR is that target degraded
   by the fitted sensor model, with the fitted noise, rounded like the S2 product.
4. Split: HR images named by ``val_hr`` / ``test_hr`` go whole to that split (validation on
   places never seen); the others are cut into blocks split by the fractions, as ``prepare``
   does. Patches are rejected for nodata, brightness and low texture as in ``prepare``.
5. Write the patch store, ``footprint.geojson`` and ``prepare.json`` (with every fitted value)
   to a temporary folder renamed to ``--out`` at the end: a failed run leaves nothing.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window

from s2sr.data.config import PrepareResult
from s2sr.data.footprint import PatchRecord, write_footprint
from s2sr.data.manifest import (
    MANIFEST,
    HarmonisationReport,
    Manifest,
    PairRecord,
    SensorRecord,
    SplitSettings,
    UnpairedRecord,
    write_manifest,
)
from s2sr.data.sampling import (
    REJECT_REASONS,
    Block,
    assign_splits,
    choose_block,
    cut_blocks,
    place_patches,
    reject_reason,
)
from s2sr.data.store import SPLITS, StoreWriter
from s2sr.data.unpaired.config import UnpairedConfig
from s2sr.data.unpaired.fit import DegradationFit, degrade_valid, fit_degradation
from s2sr.data.unpaired.inputs import HRImage, S2Image, check_s2_set, read_hr, read_s2
from s2sr.errors import ConfigError, InputError, OutputError
from s2sr.grid import Grid
from s2sr.io.atomic import atomic_dir, check_dir_target, check_not_inside
from s2sr.sensor import SensorModel

log = logging.getLogger(__name__)


def prepare_unpaired(cfg: UnpairedConfig) -> PrepareResult:
    """Fit the degradation, make pseudo-pairs, write the dataset to ``cfg.out``."""
    out = Path(cfg.out)
    check_dir_target(out)
    if out.exists() and not cfg.overwrite:
        raise OutputError(f"{out}: already exists; remove it, choose another --out, or pass --overwrite")
    check_not_inside(out, cfg.inputs)
    held = _held_out(cfg)
    first = read_s2(cfg.lr[0], cfg.lr_band_list, cfg.res_m, cfg.bright_value, cfg.max_lr_px)
    train_res = cfg.train_res_m or first.res_m
    if train_res < first.res_m * 0.99:
        raise ConfigError(f"--train-res {train_res:g}: finer than the S2 pixel {first.res_m:g} m of {cfg.lr[0]}; "
                          f"use {first.res_m:g} m or coarser")
    fine = train_res / cfg.scale
    hr = [read_hr(p, first.names, cfg.hr_bands, fine, cfg.scale, train_res, cfg.max_hr_pixels) for p in cfg.hr]
    for im in hr:
        _check_patch_room(im, cfg)

    def s2_images() -> Iterator[S2Image]:
        yield first
        for p in cfg.lr[1:]:
            im = read_s2(p, cfg.lr_band_list, cfg.res_m, cfg.bright_value, cfg.max_lr_px)
            check_s2_set([first, im])
            yield im

    fit = fit_degradation(s2_images, len(cfg.lr), hr, first.res_m, fine, cfg.scale, cfg.mtf_nyquist, cfg.seed,
                          cfg.edge_fits)
    sensor = SensorModel(cfg.scale, fit.mtf_nyquist)
    with atomic_dir(out, overwrite=True) as tmp:
        writers = {s: StoreWriter(tmp, s, first.names, cfg.patch_size, cfg.scale) for s in SPLITS}
        with ExitStack() as stack:
            for w in writers.values():
                stack.callback(w.close)
            patches, rejects, blocks, block = _sample(hr, held, fit, sensor, first, cfg, writers)
        counts = {s: w.count for s, w in writers.items()}
        if counts["train"] == 0:
            names = ", ".join(im.path for im in hr if im.name not in held)
            raise InputError(f"{names}: no usable training patch (rejected: {dict(rejects)}); use a smaller "
                             "--patch-size, larger HR images, or relax --min-std / --bright-value")
        note = write_footprint(tmp / "footprint.geojson", patches, {i: CRS.from_wkt(im.crs_wkt) for i, im in enumerate(hr)})
        manifest = _manifest(cfg, first, hr, held, fit, sensor, train_res, counts, dict(rejects), note, blocks, block)
        write_manifest(tmp, manifest)
    log.info("prepare --unpaired: wrote %s: %s patches; rejected %s", out,
             ", ".join(f"{k} {v}" for k, v in counts.items()), ", ".join(f"{k} {v}" for k, v in rejects.items()))
    return PrepareResult(out, counts, dict(rejects), manifest.pairs, first.names, out / MANIFEST,
                         out / "footprint.geojson")


def _held_out(cfg: UnpairedConfig) -> dict[str, str]:
    names = [Path(p).stem for p in cfg.hr]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ConfigError(f"--hr: several images named {sorted(dup)}; give each HR file a distinct name")
    held = {}
    for split, wanted in (("val", cfg.val_hr), ("test", cfg.test_hr)):
        for n in wanted:
            if n not in names:
                raise ConfigError(f"--{split}-scenes: no --hr image named {n!r}; known: {', '.join(names)}")
            if n in held:
                raise ConfigError(f"--val-scenes/--test-scenes: {n!r} in both; put it in one")
            held[n] = split
    if len(held) == len(names):
        raise ConfigError("--val-scenes/--test-scenes hold out every --hr image; leave at least one for training")
    return held


def _check_patch_room(im: HRImage, cfg: UnpairedConfig) -> None:
    lh, lw = im.data.shape[1] // cfg.scale, im.data.shape[2] // cfg.scale
    if min(lh, lw) < cfg.patch_size:
        raise InputError(f"{im.path}: {lw}x{lh} pseudo-LR px at {cfg.scale} x {im.transform.a:g} m, too small for one "
                         f"{cfg.patch_size} px patch; use a smaller --patch-size or leave this image out")


def pseudo_pair(im: HRImage, fit: DegradationFit, sensor: SensorModel, dtype: str,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(target in S2 units, pseudo-LR with noise, pseudo-LR valid mask) of one HR image."""
    target = fit.radiometry[im.name].apply(im.data)
    target[:, ~im.valid] = 0.0
    lr, ok = degrade_valid(target, im.valid, sensor)
    for b in range(lr.shape[0]):
        lr[b] += rng.standard_normal(lr[b].shape) * fit.noise.std_at(b, lr[b])
    dt = np.dtype(dtype)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        lr = np.clip(np.rint(lr), info.min, info.max)
    return target, lr.astype(np.float32), ok


def _blocks(im: HRImage, ok: np.ndarray, split: str | None, cfg: UnpairedConfig, block: int,
            rng: np.random.Generator) -> list[Block]:
    blocks = cut_blocks(Window(0, 0, ok.shape[1], ok.shape[0]), block)
    for b in blocks:
        w = b.window
        b.valid = float(ok[int(w.row_off):int(w.row_off + w.height), int(w.col_off):int(w.col_off + w.width)].mean())
        if split is not None:
            b.split = split
    if split is None:
        assign_splits(blocks, cfg, rng)
    place_patches(blocks, cfg, rng)
    return blocks


def _sample(hr: list[HRImage], held: dict[str, str], fit: DegradationFit, sensor: SensorModel, s2: S2Image,
            cfg: UnpairedConfig, writers: dict[str, StoreWriter],
            ) -> tuple[list[PatchRecord], Counter[str], dict[str, int], int]:
    """Pseudo-pairs of every HR image, cut into split blocks and patches, appended to the store."""
    p, s = cfg.patch_size, cfg.scale
    rng = np.random.default_rng(cfg.seed)
    free = [Window(0, 0, im.data.shape[2] // s, im.data.shape[1] // s) for im in hr if im.name not in held]
    block = choose_block(free, cfg)
    rejects: Counter[str] = Counter({r: 0 for r in REJECT_REASONS})
    records: list[PatchRecord] = []
    split_blocks: Counter[str] = Counter()
    for i, im in enumerate(hr):
        target, lr, ok = pseudo_pair(im, fit, sensor, s2.dtype, np.random.default_rng([cfg.seed, i]))
        lr_t = im.transform @ Affine.scale(s)
        for b in _blocks(im, ok, held.get(im.name), cfg, block, rng):
            split_blocks[b.split] += bool(b.patches)
            for row, col in b.patches:
                lp, lo = lr[:, row:row + p, col:col + p], ok[row:row + p, col:col + p]
                hp = target[:, row * s:(row + p) * s, col * s:(col + p) * s]
                ho = im.valid[row * s:(row + p) * s, col * s:(col + p) * s]
                why = reject_reason(lp, lo, ho, cfg)
                if why:
                    rejects[why] += 1
                    continue
                bounds = Grid(lr_t @ Affine.translation(col, row), p, p).bounds
                rec = PatchRecord(len(records), i, b.split, bounds)
                writers[b.split].add(lp, hp, {"id": rec.id, "pair": i, "lr_row": row, "lr_col": col,
                                              **dict(zip(("left", "bottom", "right", "top"), bounds, strict=True))})
                records.append(rec)
    return records, rejects, dict(split_blocks), block


def _manifest(cfg: UnpairedConfig, s2: S2Image, hr: list[HRImage], held: dict[str, str], fit: DegradationFit,
              sensor: SensorModel, train_res: float, counts: dict[str, int], rejects: dict[str, int], note: str,
              blocks: dict[str, int], block: int) -> Manifest:
    s = cfg.scale
    pairs = []
    for im in hr:
        rad = fit.radiometry[im.name]
        crs = CRS.from_wkt(im.crs_wkt)
        pairs.append(PairRecord(
            lr=f"pseudo-LR from {im.path}", hr=im.path, lr_bands=cfg.lr_band_list, hr_bands=im.bands,
            crs_wkt=im.crs_wkt, epsg=crs.to_epsg(), lr_res=train_res, hr_res=im.native_res_m,
            hr_resampling="average" if im.native_res_m < 0.99 * im.transform.a else "none",
            lr_transform=list(im.transform @ Affine.scale(s))[:6], lr_size=(im.data.shape[2] // s, im.data.shape[1] // s),
            harmonisation=HarmonisationReport(gains=list(rad.gains), offsets=list(rad.offsets), applied=True,
                                              model="S2 = gain * HR + offset (quantiles + spectral clusters vs the S2 set)"),
            scene=im.name, group=im.name, split=held.get(im.name), lr_res_m=train_res, kind="pseudo"))  # type: ignore[arg-type]
    return Manifest(
        scale=s, patch_size=cfg.patch_size, hr_patch_size=cfg.patch_size * s, bands=s2.names, lr_res=train_res,
        lr_res_m=train_res, input_res_m=s2.res_m, dtype=s2.dtype,
        sensor=SensorRecord(scale=s, mtf_nyquist=sensor.mtf_nyquist), pairs=pairs, counts=counts, rejects=rejects,
        split=SplitSettings(block_lr_px=block, blocks=blocks, gap_lr_px=cfg.gap, val_fraction=cfg.val_fraction,
                            test_fraction=cfg.test_fraction, sampling=cfg.sampling),
        footprint=note, seed=cfg.seed, config=json.loads(cfg.model_dump_json()),
        unpaired=UnpairedRecord(lr_domain=[str(p) for p in cfg.lr], hr=[im.path for im in hr], s2_res_m=s2.res_m,
                                train_res_m=train_res, fine_res_m=train_res / s, held_out=held, fit=fit.to_dict()))



