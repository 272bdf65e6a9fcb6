"""``prepare``: LR/HR pairs -> co-registered, harmonised, split patch store.

Steps per pair: validate (:mod:`s2sr.data.pairs`), estimate the LR/HR shift
(:mod:`s2sr.data.coregister`) and per-band gains (:mod:`s2sr.data.harmonise`),
cut blocks and assign splits (:mod:`s2sr.data.sampling`), then read block by block
(bounded memory) and append accepted patches to the store. Everything is written to
a temporary directory that replaces ``cfg.out`` only at the end.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections import Counter
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine
from rasterio.windows import Window
from tqdm import tqdm

from s2sr.bands import DEFAULT_BANDS
from s2sr.data.config import PrepareConfig, PrepareResult
from s2sr.data.coregister import (
    ShiftEstimate,
    degrade_windows,
    estimate_shift,
    margin_lr,
    pick_windows,
)
from s2sr.data.extract import chunks, extract_all
from s2sr.data.footprint import PatchRecord, write_footprint
from s2sr.data.harmonise import Harmonisation, estimate_harmonisation
from s2sr.data.manifest import (
    MANIFEST,
    FineGridRecord,
    HarmonisationReport,
    Manifest,
    PairRecord,
    SensorRecord,
    ShiftReport,
    SplitSettings,
    WindowRecord,
    write_manifest,
)
from s2sr.data.pairs import Pair, hr_reader, lr_reader
from s2sr.data.sampling import (
    REJECT_REASONS,
    Block,
    assign_splits,
    choose_block,
    cut_blocks,
    empty_split_fix,
    limit_patches,
    measure_valid,
    place_patches,
    usable_blocks,
)
from s2sr.data.sources import dataset_resolution, open_scene, resolve_scenes, scene_lr_res_m
from s2sr.data.store import SPLITS, StoreWriter
from s2sr.errors import InputError, OutputError
from s2sr.grid import Grid
from s2sr.io.atomic import atomic_dir, check_dir_target, check_not_inside
from s2sr.sensor import SensorModel

log = logging.getLogger(__name__)


def prepare(cfg: PrepareConfig, dask: str | None = None) -> PrepareResult:
    """Build the patch store, ``footprint.geojson`` and ``prepare.json`` in ``cfg.out``; with ``dask``
    (a scheduler address or ``local:N``) the patches are cut on that cluster (same store).

    A scene's LR or Wald image may be a STAC item, a .SAFE product or a band folder: it is read
    through a VRT of its B2,B3,B4,B8 bands (:mod:`s2sr.io.sources`); the records name the original."""
    out = Path(cfg.out)
    check_dir_target(out)
    if out.exists() and not cfg.overwrite:
        raise OutputError(f"{out}: already exists; remove it, choose another --out, or pass --overwrite")
    check_not_inside(out, cfg.inputs)
    with tempfile.TemporaryDirectory(prefix="s2sr-prepare-") as tmp:
        scenes, origins = resolve_scenes(cfg.scenes, Path(tmp), DEFAULT_BANDS)
        return _prepare(cfg.model_copy(update={"scenes": scenes}), out, origins, dask)


def _prepare(cfg: PrepareConfig, out: Path, origins: dict[str, str], dask: str | None) -> PrepareResult:
    pairs = [open_scene(i, sc, cfg) for i, sc in enumerate(cfg.scenes)]
    _check_band_counts(pairs)
    scene_res = [scene_lr_res_m(p, sc) for p, sc in zip(pairs, cfg.scenes, strict=True)]
    res = dataset_resolution(pairs, scene_res)
    sensor = SensorModel(cfg.scale, cfg.mtf_nyquist)
    rng = np.random.default_rng(cfg.seed)
    measured = [_measure(pair, cfg, sensor) for pair in pairs]
    cfg = _split_block(cfg, pairs, [m[0] for m in measured])
    records, shifts, harms, blocks = [], {}, {}, {}
    for pair, spec, r, (shift, harm, rec) in zip(pairs, cfg.scenes, scene_res, measured, strict=True):
        shifts[pair.index], harms[pair.index] = shift, harm
        blocks[pair.index] = _plan(pair, cfg, sensor, shift, spec.split, rng)
        records.append(rec.model_copy(update={"scene": spec.label, "group": spec.group_name, "split": spec.split,
                                              "lr_res_m": r, "kind": pair.kind,
                                              "lr": origins.get(rec.lr, rec.lr), "hr": origins.get(rec.hr, rec.hr)}))
    limit_patches([b for bs in blocks.values() for b in bs], cfg.max_patches, rng)
    bands = pairs[0].band_names
    with ExitStack() as stack:
        client = None
        if dask:
            from s2sr.cluster import dask_client  # distributed: only for --dask

            client = stack.enter_context(dask_client(dask))
        tmp = stack.enter_context(atomic_dir(out, overwrite=True))
        writers = {s: StoreWriter(tmp, s, bands, cfg.patch_size, cfg.scale) for s in SPLITS}
        with ExitStack() as closing:  # every writer is closed, even when one fails (a full disk)
            for w in writers.values():
                closing.callback(w.close)
            patches, rejects = _sample(pairs, blocks, shifts, harms, cfg, sensor, writers, client)
        note = write_footprint(tmp / "footprint.geojson", patches, {p.index: p.crs for p in pairs})
        counts = {s: w.count for s, w in writers.items()}
        if counts["train"] == 0:
            names = ", ".join(p.lr.path for p in pairs)
            why = ", ".join(f"{k} {v}" for k, v in rejects.items())
            raise InputError(f"{names}: no usable training patch (rejected: {why}); use a smaller --patch-size, "
                             "or relax --min-std / --bright-value")
        split_blocks = dict(Counter(b.split for bs in blocks.values() for b in bs if b.patches))
        manifest = _manifest(cfg, pairs, records, sensor, counts, rejects, note, split_blocks)
        write_manifest(tmp, manifest.model_copy(update={"lr_res_m": res.lr_res_m, "input_res_m": res.input_res_m}))
    _log_summary(counts, rejects, out, cfg, split_blocks)
    return PrepareResult(out, counts, rejects, records, bands, out / MANIFEST, out / "footprint.geojson")


def _split_block(cfg: PrepareConfig, pairs: list[Pair], shifts: list[tuple[float, float]]) -> PrepareConfig:
    """The config with the split block the scenes need (see :func:`s2sr.data.sampling.choose_block`)."""
    free = [_plan_window(p, cfg, sh) for p, sc, sh in zip(pairs, cfg.scenes, shifts, strict=True) if sc.split is None]
    block = choose_block(free, cfg)
    if block == cfg.block:
        return cfg
    log.info("prepare: the scenes give %d split block(s) of %d LR px; using %d px blocks (%d blocks) so that "
             "train, val and test get one each (--split-block to choose)", usable_blocks(free, cfg.block,
             cfg.patch_size, cfg.gap), cfg.block, block, usable_blocks(free, block, cfg.patch_size, cfg.gap))
    return cfg.model_copy(update={"split_block": block})


def _check_band_counts(pairs: list[Pair]) -> None:
    n = len(pairs[0].lr_bands)
    for p in pairs[1:]:
        if len(p.lr_bands) != n:
            raise InputError(
                f"{p.lr.path}: selects {len(p.lr_bands)} bands but {pairs[0].lr.path} selects {n}; "
                "all pairs of one dataset need the same bands (--lr-bands/--hr-bands)"
            )


def _measure(pair: Pair, cfg: PrepareConfig, sensor: SensorModel) -> tuple[tuple[float, float], Harmonisation, PairRecord]:
    """Estimate shift and gains; return the shift to apply, the harmonisation to apply, the record.

    A Wald pair is aligned and calibrated by construction: nothing to measure."""
    if pair.kind == "wald":
        log.info("pair %d: Wald pair of %s (LR made by the sensor model; no shift, no gains)", pair.index, pair.hr.path)
        return (0.0, 0.0), Harmonisation.identity(len(pair.lr_bands)), _record(pair, ShiftReport(), HarmonisationReport())
    est, fit = _estimate(pair, cfg, sensor)
    measured = bool(est.per_window)
    if measured:
        log.info("pair %d: LR is offset from HR by dx=%+.3f dy=%+.3f LR px (%d windows, spread %.3f)%s",
                 pair.index, est.dx, est.dy, len(est.per_window), est.spread,
                 "; corrected" if cfg.coregister else "; not corrected (pass --coregister)")
    else:
        log.info("pair %d: LR/HR offset not measured (no usable window)%s", pair.index,
                 "; nothing corrected" if cfg.coregister else "")
    if fit is not None:
        log.info("pair %d: LR ~ gain * HR + offset: gains %s offsets %s%s", pair.index,
                 [round(g, 4) for g in fit.gains], [round(o, 1) for o in fit.offsets],
                 "; applied" if cfg.harmonise else "; not applied (pass --harmonise)")
    applied = fit if (cfg.harmonise and fit is not None) else Harmonisation.identity(len(pair.lr_bands))
    shift = (ShiftReport(dx=est.dx, dy=est.dy, per_window=est.per_window, spread=est.spread, applied=cfg.coregister)
             if measured else ShiftReport(dx=None, dy=None, applied=False))
    harm = HarmonisationReport(applied=bool(cfg.harmonise and fit is not None),
                               **(asdict(fit) if fit else {}))
    return ((est.dx, est.dy) if cfg.coregister else (0.0, 0.0)), applied, _record(pair, shift, harm)


def _record(pair: Pair, shift: ShiftReport, harm: HarmonisationReport) -> PairRecord:
    crs, w = pair.crs, pair.window
    return PairRecord(
        lr=pair.lr.path, hr=pair.hr.path, lr_bands=pair.lr_bands, hr_bands=pair.hr_bands,
        crs_wkt=crs.to_wkt() if crs else None, epsg=crs.to_epsg() if crs else None,
        lr_res=pair.lr_res, hr_res=pair.warp.hr_res, hr_resampling=pair.warp.resampling.name,
        lr_transform=list(pair.lr.grid.transform)[:6], lr_size=(pair.lr.width, pair.lr.height),
        shift_lr_px=shift, harmonisation=harm,
        overlap_window=WindowRecord(col_off=int(w.col_off), row_off=int(w.row_off), width=int(w.width),
                                    height=int(w.height)),
        warnings=pair.warnings,
    )


def _estimate(pair: Pair, cfg: PrepareConfig, sensor: SensorModel) -> tuple[ShiftEstimate, Harmonisation | None]:
    """Shift: estimate, resample the HR at it, add the residual. Gains: fit on that resampled HR."""
    m = margin_lr(sensor)
    with lr_reader(pair, sensor) as lr:
        samples = pick_windows(pair, cfg, lr, m + 2)  # room for shifts up to 2 LR px
    if not samples:
        pair.warn(f"{pair.lr.path}: no clean (valid, cloud-free) window for co-registration; shift and gains not estimated")
        return ShiftEstimate(0.0, 0.0), None
    est, fit = ShiftEstimate(0.0, 0.0), None
    for it in range(2):
        with hr_reader(pair, (est.dx, est.dy)) as hr:
            degraded = degrade_windows(samples, hr, sensor, m)
        step = estimate_shift(samples, degraded)
        if it == 1:
            fit = estimate_harmonisation(samples, degraded, cfg.bright_value)
        est = ShiftEstimate(est.dx + step.dx, est.dy + step.dy,
                            [(est.dx + a, est.dy + b) for a, b in step.per_window])
    if fit is None:
        pair.warn(f"{pair.hr.path}: HR has gaps under every co-registration window; gains not estimated")
    if est.spread > 0.2:
        pair.warn(f"{pair.lr.path}: co-registration windows disagree by {est.spread:.2f} LR px (median); "
                  "the shift varies over the scene or the images differ (clouds, season); check the pair")
    return est, fit


def _plan_window(pair: Pair, cfg: PrepareConfig, shift: tuple[float, float]) -> Window:
    """The pair's LR window less the co-registration shift on every side (shifted HR reads stay inside)."""
    w = pair.window
    k = int(np.ceil(max(abs(shift[0]), abs(shift[1])))) if cfg.coregister else 0
    return Window(w.col_off + k, w.row_off + k, w.width - 2 * k, w.height - 2 * k)


def _plan(pair: Pair, cfg: PrepareConfig, sensor: SensorModel, shift: tuple[float, float], split: str | None,
          rng: np.random.Generator) -> list[Block]:
    """Blocks with splits and patch positions; shrink the window so shifted HR reads stay inside.

    A scene with a ``split`` goes whole to it; otherwise its blocks are split by the fractions."""
    blocks = cut_blocks(_plan_window(pair, cfg, shift), cfg.block)
    with lr_reader(pair, sensor) as lr:
        measure_valid(blocks, lr)
    if split is None:
        assign_splits(blocks, cfg, rng)
    else:
        for b in blocks:
            b.split = split
    place_patches(blocks, cfg, rng)
    return blocks


def _sample(
    pairs: list[Pair], blocks: dict[int, list[Block]], shifts: dict[int, tuple[float, float]],
    harms: dict[int, Harmonisation], cfg: PrepareConfig, sensor: SensorModel, writers: dict[str, StoreWriter],
    client: Any = None,
) -> tuple[list[PatchRecord], dict[str, int]]:
    """Read block by block (here, or on the Dask cluster of ``client``), reject bad patches, append the
    rest to their split in block order."""
    p = cfg.patch_size
    rejects: Counter[str] = Counter({r: 0 for r in REJECT_REASONS})
    records: list[PatchRecord] = []
    total = sum(1 for bs in blocks.values() for b in bs if b.patches)
    todo = chunks(pairs, blocks, shifts, harms, cfg, sensor)
    with tqdm(total=total, desc="prepare: sampling", unit="block", disable=None) as bar:
        for chunk, got in extract_all(todo, client):
            pair = chunk.pair
            for row, col, split, lp, hp in got.patches:
                rec = PatchRecord(len(records), pair.index, split, _patch_bounds(pair, row, col, p))
                writers[split].add(lp, hp, {"id": rec.id, "pair": pair.index, "lr_row": row, "lr_col": col,
                                            **dict(zip(("left", "bottom", "right", "top"), rec.bounds, strict=True))})
                records.append(rec)
            rejects.update(got.rejects)
            bar.update(got.blocks)
    return records, dict(rejects)


def _patch_bounds(pair: Pair, row: int, col: int, p: int) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) of the LR patch at (row, col) in the LR CRS."""
    return Grid(pair.lr.grid.transform @ Affine.translation(col, row), p, p).bounds


def _manifest(
    cfg: PrepareConfig, pairs: list[Pair], records: list[PairRecord], sensor: SensorModel,
    counts: dict[str, int], rejects: dict[str, int], footprint_note: str, split_blocks: dict[str, int],
) -> Manifest:
    first = pairs[0]
    fine, crs = first.fine, first.crs
    return Manifest(
        scale=cfg.scale, patch_size=cfg.patch_size, hr_patch_size=cfg.patch_size * cfg.scale,
        bands=first.band_names, lr_res=first.lr_res, dtype=first.lr.dtype,
        crs=crs.to_string() if crs else None, crs_wkt=crs.to_wkt() if crs else None,
        epsg=crs.to_epsg() if crs else None,
        fine_grid=FineGridRecord(transform=list(fine.transform)[:6], width=fine.width, height=fine.height,
                                 res=fine.res[0]),
        sensor=SensorRecord(scale=sensor.scale, mtf_nyquist=sensor.mtf_nyquist),
        pairs=records, counts=counts, rejects=rejects,
        split=SplitSettings(block_lr_px=cfg.block, blocks=split_blocks, gap_lr_px=cfg.gap, val_fraction=cfg.val_fraction,
                            test_fraction=cfg.test_fraction, sampling=cfg.sampling),
        footprint=footprint_note, seed=cfg.seed, config=json.loads(cfg.model_dump_json()),
    )


def _log_summary(counts: dict[str, int], rejects: dict[str, int], out: Path, cfg: PrepareConfig,
                 split_blocks: dict[str, int]) -> None:
    log.info("prepare: wrote %s: %s patches; rejected %s", out,
             ", ".join(f"{k} {v}" for k, v in counts.items()), ", ".join(f"{k} {v}" for k, v in rejects.items()))
    for split in ("val", "test"):
        fraction = cfg.val_fraction if split == "val" else cfg.test_fraction
        if counts.get(split, 0) == 0 and (fraction > 0 or split == "val"):  # train needs val; test only if asked
            why = empty_split_fix(split, fraction, split_blocks, cfg.block, cfg.patch_size, cfg.gap)
            log.warning("prepare: the %s split is empty: %s", split, why)
