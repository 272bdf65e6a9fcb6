"""``prepare --finer LIST``: a dataset whose targets are real finer images at 2.5 m (and the same x4
relation at other sizes), plus Sentinel-2 Wald pairs, each input drawn from the degradation family.

1. The Sentinel-2 scenes of the list's ``wald`` scene list are read; its train scenes are the
   radiometry reference and fit the pseudo-NIR (:mod:`.targets`).
2. Each train/val finer image is mapped to Sentinel-2 units and area-averaged to every target
   size; the train and val Sentinel-2 scenes are targets at 10 m (Wald: their input is 40 m).
3. Patches are cut at a fixed ground stride and kept when every target pixel is valid. The stored
   LR of a patch is one member of the family drawn from ``(seed, patch id)``; training draws a new
   member per sample and step (``prepare.json`` ``degradation``), validation keeps the stored one.
   Per-patch band weights (``weights.f32``) are 0 for a band that is not a real target (the
   pseudo-NIR of RGB images).
4. Test images are never read: they are scored by ``benchmarks/aerial_pairs.py``.
The folder is written under a temporary name and renamed at the end.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS

from s2sr.data.finer.listing import FinerList, read_finer_list
from s2sr.data.finer.targets import Target, fit_image_radiometry, fit_nir, make_target
from s2sr.data.footprint import PatchRecord, write_footprint
from s2sr.data.manifest import (
    HarmonisationReport,
    Manifest,
    PairRecord,
    SensorRecord,
    SplitSettings,
    write_manifest,
)
from s2sr.data.scenes import read_scene_list
from s2sr.data.store import SPLITS, StoreWriter
from s2sr.errors import InputError
from s2sr.io.atomic import atomic_dir
from s2sr.sensor.family import DegradationFamily

log = logging.getLogger(__name__)

BANDS = ["B2 blue", "B3 green", "B4 red", "B8 NIR"]
S2_RES_M = 10.0


@dataclass
class Source:
    name: str
    path: str
    split: str
    kind: str  # "pseudo" (a finer image) or "wald" (a Sentinel-2 scene)
    target: Target
    gains: list[float] | None = None
    offsets: list[float] | None = None


def _read_s2(path: Path) -> tuple[np.ndarray, np.ndarray, Affine, str | None]:
    with rasterio.open(path) as src:
        if src.count != 4:
            raise InputError(f"{path}: {src.count} bands; a Wald scene needs B2, B3, B4, B8")
        d = src.read().astype(np.float64)
        return d, (d > 0).all(axis=0), src.transform, (src.crs.to_wkt() if src.crs else None)


def _sources(lst: FinerList, scene_root: Path | None) -> list[Source]:
    wald = read_scene_list(lst.wald, root=scene_root) if lst.wald is not None else []
    out: list[Source] = []
    reference = []
    for sc in wald:
        if sc.split not in ("train", "val") or sc.wald is None:
            continue
        d, v, t, crs = _read_s2(sc.wald)
        if sc.split == "train":
            reference.append((d, v))
        tgt = Target(d.astype(np.float32), v, t, crs, S2_RES_M, (1.0, 1.0, 1.0, 1.0))
        out.append(Source(sc.label, str(sc.wald), sc.split, "wald", tgt))
    if not reference:
        raise InputError(f"{lst.wald}: no train Sentinel-2 scene; the radiometry needs one (split = 'train')")
    nir = fit_nir(reference)
    log.info("prepare --finer: pseudo-NIR B8 = %.1f + %.3f B2 + %.3f B3 + %.3f B4", *nir)
    for im in lst.image:
        if im.split == "test":
            continue
        rad = fit_image_radiometry(im.path, im.bands, reference, scale=lst.scale)
        for res in (lst.target_res_m if im.split == "train" else lst.val_res_m):
            tgt = make_target(im.path, im.bands, res, rad, nir)
            out.append(Source(f"{im.name}@{res:g}m", str(im.path), im.split, "pseudo", tgt,
                              list(rad.gains), list(rad.offsets)))
        log.info("prepare --finer: %s (%s): gains %s", im.name, im.split, ", ".join(f"{g:.2f}" for g in rad.gains))
    return out


def _origins(n: int, size: int, stride: int) -> list[int]:
    return list(range(0, n - size + 1, max(1, stride))) if n >= size else []


def prepare_finer(list_path: str | Path, out: str | Path, scene_root: str | Path | None = None, seed: int = 0,
                  overwrite: bool = False) -> Path:
    """Build the dataset described by ``list_path`` into ``out`` (see the module doc)."""
    lst = read_finer_list(list_path, scene_root)
    family = DegradationFamily.from_dict(lst.family)
    s, p = lst.scale, lst.patch_size
    hp = p * s
    sources = _sources(lst, Path(scene_root) if scene_root is not None else None)
    counts: Counter[str] = Counter()
    rejects: Counter[str] = Counter()
    records: list[PatchRecord] = []
    with atomic_dir(out, overwrite=overwrite, inputs=[lst.wald, *(im.path for im in lst.image)]) as tmp:
        writers = {sp: StoreWriter(tmp, sp, BANDS, p, s) for sp in SPLITS}
        with ExitStack() as stack:
            for w in writers.values():
                stack.callback(w.close)
            for i, src in enumerate(sources):
                t = src.target
                if src.kind == "wald":  # val scenes without overlap: the aerial val patches must weigh
                    stride = (lst.wald_stride if src.split == "train" else p) * s
                else:
                    stride = max(1, int(round(lst.stride_m / t.res_m)))
                for r in _origins(t.data.shape[1], hp, stride):
                    for c in _origins(t.data.shape[2], hp, stride):
                        if not t.valid[r:r + hp, c:c + hp].all():
                            rejects["nodata"] += 1
                            continue
                        hr = t.data[:, r:r + hp, c:c + hp]
                        if float(hr[:3].std(axis=(1, 2)).min()) < 1.0:
                            rejects["flat"] += 1
                            continue
                        pid = len(records)
                        member = family.draw(np.random.default_rng([seed, pid]), hr.shape[0])
                        lr = member.apply(hr, s, np.random.default_rng([seed, pid, 1]))
                        tt = t.transform @ Affine.translation(c, r)
                        bounds = (tt.c, tt.f + tt.e * hp, tt.c + tt.a * hp, tt.f)
                        writers[src.split].add(lr, hr, {"id": pid, "pair": i, "lr_row": r // s, "lr_col": c // s,
                                                        "left": bounds[0], "bottom": bounds[1], "right": bounds[2],
                                                        "top": bounds[3]}, weights=t.weights)
                        records.append(PatchRecord(pid, i, src.split, bounds))
                        counts[f"{src.split}:{src.kind}"] += 1
        split_counts = {sp: w.count for sp, w in writers.items()}
        if split_counts["train"] == 0 or split_counts["val"] == 0:
            raise InputError(f"{list_path}: {split_counts['train']} train / {split_counts['val']} val patches; "
                             "use a smaller patch_size or stride_m, or add images")
        note = write_footprint(tmp / "footprint.geojson", records,
                               {i: (CRS.from_wkt(x.target.crs_wkt) if x.target.crs_wkt else None)
                                for i, x in enumerate(sources)})
        pairs = [PairRecord(lr=f"family draws from {x.path}", hr=x.path, crs_wkt=x.target.crs_wkt,
                            lr_res_m=x.target.res_m * s, scene=x.name, group=x.name.split("@")[0], split=x.split,  # type: ignore[arg-type]
                            kind="wald" if x.kind == "wald" else "pseudo",
                            harmonisation=HarmonisationReport(gains=x.gains, offsets=x.offsets,
                                                              applied=x.gains is not None))
                 for x in sources]
        manifest = Manifest(scale=s, patch_size=p, hr_patch_size=hp, bands=BANDS, lr_res_m=None,
                            input_res_m=S2_RES_M, dtype="uint16", sensor=SensorRecord(scale=s, mtf_nyquist=0.39),
                            pairs=pairs, counts=split_counts, rejects=dict(rejects),
                            split=SplitSettings(sampling="whole images and scenes by the list's splits"),
                            footprint=note, seed=seed,
                            config={"list": str(list_path), "sources": dict(counts),
                                    **json.loads(lst.model_dump_json())},
                            degradation={"family": family.to_dict(), "train": "a new member per sample and step",
                                         "val": "one member per patch, seeded by (seed, patch id)"})
        write_manifest(tmp, manifest)
    log.info("prepare --finer: wrote %s: %s; rejected %s", out, dict(counts), dict(rejects))
    return Path(out)
