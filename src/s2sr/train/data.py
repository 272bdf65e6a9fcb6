"""Training data: the patch store streamed from memmaps, a stateless seeded sampler,
dihedral augmentation and per-band normalisation statistics.

The batch at step ``k`` is a pure function of ``(seed, k)``: sample position
``p = k * batch + j`` falls in epoch ``p // N`` whose order is a permutation seeded
by ``(seed, epoch)``; the flip/rot90 of each sample is seeded by ``(seed, k)``. So
a resumed run draws exactly the batches the uninterrupted run would have drawn.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from s2sr.data.store import SplitReader, open_split
from s2sr.errors import InputError
from s2sr.sensor import SensorModel

log = logging.getLogger(__name__)


@dataclass
class DatasetInfo:
    """What training needs to know about a prepared dataset folder."""

    root: Path
    scale: int
    bands: list[str]
    sensor: SensorModel
    lr_res: float | None
    input_dtype: str
    summary: dict[str, Any]


def read_dataset_info(root: Path, train: SplitReader) -> DatasetInfo:
    """Combine DIR/prepare.json (read defensively) with the store's own metadata."""
    meta: dict[str, Any] = {}
    pj = root / "prepare.json"
    if pj.is_file():
        try:
            meta = json.loads(pj.read_text())
        except json.JSONDecodeError as e:
            raise InputError(f"{pj}: not valid JSON ({e}); re-run `s2sr prepare`") from None
    else:
        log.warning("%s: missing; using the patch store metadata and the default sensor model", pj)
    scale = int(meta.get("scale") or train.scale)
    if scale != train.scale:
        raise InputError(f"{pj}: scale {scale} disagrees with the patch store ({train.scale}); re-run `s2sr prepare`")
    raw = meta.get("sensor")
    sensor_d: dict[str, Any] = raw if isinstance(raw, dict) else {}
    sensor = SensorModel.from_dict({"scale": scale, **{k: v for k, v in sensor_d.items() if k == "mtf_nyquist"}})
    res = meta.get("lr_res")
    if isinstance(res, list | tuple):
        res = float(abs(res[0]))
    keep = ("scale", "bands", "lr_res", "sensor", "crs", "epsg", "dtype", "counts", "patch_size", "seed")
    summary = {k: meta[k] for k in keep if k in meta}
    inputs = meta.get("inputs")
    if isinstance(inputs, list):
        summary["inputs"] = [{k: d[k] for k in ("lr", "hr") if k in d} for d in inputs if isinstance(d, dict)]
    return DatasetInfo(
        root=root, scale=scale, bands=list(train.bands), sensor=sensor,
        lr_res=float(res) if res is not None else None,
        input_dtype=str(meta.get("input_dtype") or meta.get("dtype") or "uint16"),
        summary=summary,
    )


def norm_stats(split: SplitReader, max_patches: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-band mean and std of the LR patches (float64 sums over a seeded subset)."""
    n = len(split)
    if n == 0:
        raise InputError(f"{split.dir}: the train split is empty; prepare more patches")
    idx = np.sort(np.random.default_rng([seed, 7]).permutation(n)[:max_patches])
    c = len(split.bands)
    s1, s2, cnt = np.zeros(c), np.zeros(c), 0
    for i in idx:
        a = np.asarray(split.lr[i], dtype=np.float64).reshape(c, -1)
        s1 += a.sum(1)
        s2 += (a * a).sum(1)
        cnt += a.shape[1]
    mean = s1 / cnt
    std = np.sqrt(np.maximum(s2 / cnt - mean**2, 0.0))
    std = np.where(std > 1e-6 * np.maximum(np.abs(mean), 1.0), std, 1.0)
    return mean.astype(np.float32), std.astype(np.float32)


def batch_indices(n: int, batch: int, step: int, seed: int) -> np.ndarray:
    """Indices of the batch at ``step`` (pure function of its arguments)."""
    pos = step * batch + np.arange(batch)
    out = np.empty(batch, dtype=np.int64)
    for epoch in np.unique(pos // n):
        perm = np.random.default_rng([seed, int(epoch)]).permutation(n)
        sel = pos // n == epoch
        out[sel] = perm[pos[sel] % n]
    return out


def dihedral(a: np.ndarray, op: int) -> np.ndarray:
    """One of the 8 flips/rotations of a (C, H, W) array."""
    if op & 4:
        a = a[:, :, ::-1]
    return np.rot90(a, op & 3, axes=(1, 2))


class Batches:
    """Seeded, stateless batches of normalised (lr, hr) tensors from a split."""

    def __init__(self, split: SplitReader, batch: int, seed: int, mean: np.ndarray,
                 std: np.ndarray, augment: bool) -> None:
        self.split, self.batch, self.seed, self.augment = split, batch, seed, augment
        self.mean = mean.reshape(1, -1, 1, 1).astype(np.float32)
        self.std = std.reshape(1, -1, 1, 1).astype(np.float32)

    def get(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx = batch_indices(len(self.split), self.batch, step, self.seed)
        ops = np.random.default_rng([self.seed, step, 1]).integers(0, 8, len(idx))
        lrs, hrs = [], []
        for i, op in zip(idx, ops, strict=True):
            lr, hr = np.asarray(self.split.lr[i]), np.asarray(self.split.hr[i])
            if self.augment:
                lr, hr = dihedral(lr, int(op)), dihedral(hr, int(op))
            lrs.append(lr)
            hrs.append(hr)
        lr_b = (np.stack(lrs).astype(np.float32) - self.mean) / self.std
        hr_b = (np.stack(hrs).astype(np.float32) - self.mean) / self.std
        return torch.from_numpy(lr_b), torch.from_numpy(hr_b)


def open_train_val(root: Path) -> tuple[SplitReader, SplitReader]:
    """Open the train and val splits; val must not be empty."""
    tr, va = open_split(root, "train"), open_split(root, "val")
    if len(va) == 0:
        raise InputError(f"{root}: the val split is empty; prepare with a val fraction > 0")
    if tr.bands != va.bands or tr.scale != va.scale:
        raise InputError(f"{root}: train and val splits disagree on bands/scale; re-run `s2sr prepare`")
    return tr, va
