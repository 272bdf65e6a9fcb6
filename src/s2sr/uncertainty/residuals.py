"""The frozen SR model's residuals on the train and val splits of a prepared dataset.

For every pair of the dataset (``prepare.json``) that has train or val pixels: the LR image
(for a Wald pair, the image degraded by the model's sensor model, as ``evaluate --wald``
does), the super-resolved LR written by the apply pipeline itself, the reference on the fine
grid (with ``prepare``'s recorded shift and gains), and per fine pixel the split it belongs
to: the pair's split for whole-scene splits, else the patch boxes of each split (a pixel
counts only when it lies in boxes of that split and in none of another). Everything is in
the bundle's normalised units, which is what the error model works in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rasterio.windows import Window

from s2sr.bundle import ModelBundle
from s2sr.data.dataset import Dataset
from s2sr.data.manifest import PairRecord
from s2sr.errors import InputError
from s2sr.evaluate.scene import Scene
from s2sr.evaluate.split import boxes_mask

log = logging.getLogger(__name__)

MAX_FINE_PIXELS = 50_000_000  # per pair: everything is held in memory (~1 GB at 4 bands)


@dataclass
class SceneResiduals:
    """One pair's arrays, normalised: LR (C, h, w), SR and |SR - reference| (C, H, W), split masks (H, W)."""

    name: str
    lr: np.ndarray
    sr: np.ndarray
    err: np.ndarray
    masks: dict[str, np.ndarray]  # "train" / "val" -> valid pixels of that split

    def pixels(self, split: str) -> int:
        m = self.masks.get(split)
        return 0 if m is None else int(m.sum())


def _splits_of(ds: Dataset, index: int, rec: PairRecord, splits: tuple[str, ...]) -> dict[str, list]:
    """Per wanted split: ``None`` (whole scene) or the patch boxes (block splits); absent: no pixel."""
    if rec.split is not None:
        return {rec.split: []} if rec.split in splits else {}
    return {s: ds.boxes(s, {index}) for s in splits if ds.boxes(s, {index})}


def _masks(scene: Scene, valid: np.ndarray, ds: Dataset, index: int, wanted: dict[str, list],
           whole: bool) -> dict[str, np.ndarray]:
    if whole:
        return {s: valid for s in wanted}
    t, shape = scene.fine.transform, valid.shape
    inside = {s: boxes_mask(ds.boxes(s, {index}), t, shape) for s in ("train", "val", "test")}
    out = {}
    for s in wanted:
        others = np.zeros(shape, bool)
        for o in inside:
            if o != s:
                others |= inside[o]
        out[s] = valid & inside[s] & ~others
    return out


def _inputs(bundle: ModelBundle, ds: Dataset, rec: PairRecord, work: Path) -> tuple[Path, Path, list[int], list[int]]:
    """(LR path, reference path, LR bands, reference bands) of a pair, a Wald pair made in ``work``."""
    if rec.kind == "wald":
        from s2sr.data.wald import degrade_image

        pair = degrade_image(rec.lr, work, bundle.scale, bundle.sensor.mtf_nyquist, rec.lr_bands or None,
                             progress=False)
        n = len(pair.bands)
        return pair.lr, pair.hr, list(range(1, n + 1)), list(range(1, n + 1))
    return Path(rec.lr), Path(rec.hr), list(rec.lr_bands), list(rec.hr_bands)


def scene_residuals(bundle: ModelBundle, ds: Dataset, index: int, work: Path,
                    splits: tuple[str, ...] = ("train", "val")) -> SceneResiduals | None:
    """The residuals of pair ``index`` on ``splits`` (None when it has no pixel there)."""
    from s2sr.evaluate.sr import super_resolve

    assert ds.manifest is not None
    rec = ds.manifest.pairs[index]
    wanted = _splits_of(ds, index, rec, splits)
    if not wanted:
        return None
    name = rec.scene or Path(rec.lr).stem
    for p in {rec.lr, rec.hr}:
        if not Path(p).is_file():
            raise InputError(f"{p}: input of {ds.manifest_path} not found (paths are relative to where `s2sr prepare` "
                             "ran); run from that folder")
    work.mkdir(parents=True, exist_ok=True)
    lr_path, hr_path, lr_b, hr_b = _inputs(bundle, ds, rec, work / "pair")
    sr_path = super_resolve(bundle, lr_path, work / "sr.tif", lr_b, progress=False, input_check="skip")
    scene = Scene(lr_path, hr_path, bundle.scale, lr_b, hr_b, ds.alignment(rec.lr))
    try:
        scene.open_sr(sr_path)
        W, H = scene.fine.width, scene.fine.height
        if W * H > MAX_FINE_PIXELS:
            raise InputError(f"{rec.lr}: {W}x{H} output pixels is more than s2sr calibrate holds in memory "
                             f"({MAX_FINE_PIXELS}); prepare the dataset from smaller scenes")
        full = Window(0, 0, W, H)
        ref, ref_ok = scene.read_ref(full)
        sr, sr_ok = scene.read_sr(full)
        lr, lr_ok, _ = scene.read_lr(full)
    finally:
        scene.close()
    s = bundle.scale
    valid = ref_ok & sr_ok & np.repeat(np.repeat(lr_ok, s, 0), s, 1)
    masks = _masks(scene, valid, ds, index, wanted, rec.split is not None)
    m = bundle.mean.reshape(-1, 1, 1)
    sd = bundle.std.reshape(-1, 1, 1)
    lr_n = np.where(lr_ok[None], (lr - m) / sd, 0.0).astype(np.float32)  # nodata: the training mean
    sr_n = np.where(valid[None], (sr - m) / sd, 0.0).astype(np.float32)
    err = np.where(valid[None], np.abs(sr - ref) / sd, 0.0).astype(np.float32)
    log.info("residuals of %s: %s", name, {k: int(v.sum()) for k, v in masks.items()})
    return SceneResiduals(name, lr_n, sr_n, err, masks)
