"""Training data: the patch store streamed from memmaps, a stateless seeded sampler,
dihedral augmentation and per-band normalisation statistics.

The batch at step ``k`` is a pure function of ``(seed, k)``: sample position
``p = k * batch + j`` falls in epoch ``p // N`` whose order is a permutation seeded
by ``(seed, epoch)``; the flip/rot90 of each sample is seeded by ``(seed, k)``. So
a resumed run draws exactly the batches the uninterrupted run would have drawn. With a
degradation family (``prepare --finer``) the input of each sample is drawn anew from the family
by ``(seed, k, j)`` from its stored target, before the crop and the flip.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from s2sr.data.dataset import Dataset
from s2sr.data.store import SplitReader
from s2sr.errors import InputError
from s2sr.sensor.family import DegradationFamily

log = logging.getLogger(__name__)


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
    if not np.all(np.isfinite(s2)):
        raise InputError(f"{split.dir}: the training patches hold NaN or infinite values; re-run `s2sr prepare` "
                         "on the source images")
    std = np.sqrt(np.maximum(s2 / cnt - mean**2, 0.0))
    std = np.where(std > 1e-6 * np.maximum(np.abs(mean), 1.0), std, 1.0)
    return mean.astype(np.float32), std.astype(np.float32)


def input_stats(split: SplitReader, max_patches: int, seed: int) -> dict[str, list[float]]:
    """Per-band percentiles (1, 50, 99) of the training LR input, in input units: what ``apply``
    compares a new image against (another scaling, bit depth or band order shows there)."""
    n = len(split)
    idx = np.sort(np.random.default_rng([seed, 8]).permutation(n)[:max_patches])
    c = len(split.bands)
    px = np.concatenate([np.asarray(split.lr[i], np.float32).reshape(c, -1) for i in idx], axis=1)
    p01, p50, p99 = np.percentile(px, [1, 50, 99], axis=1)
    return {"p01": [float(v) for v in p01], "p50": [float(v) for v in p50], "p99": [float(v) for v in p99]}


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
                 std: np.ndarray, augment: bool, crop: int | None = None,
                 family: DegradationFamily | None = None) -> None:
        self.split, self.batch, self.seed, self.augment = split, batch, seed, augment
        self.family = family
        p = split.lr_patch
        if crop is not None and crop > p:
            raise InputError(f"{split.dir}: run.crop {crop} is larger than the stored patches ({p} LR px); "
                             f"use crop <= {p} or re-run `s2sr prepare` with a larger --patch-size")
        self.crop = crop if crop is not None and crop < p else None
        self.mean = mean.reshape(1, -1, 1, 1).astype(np.float32)
        self.std = std.reshape(1, -1, 1, 1).astype(np.float32)

    def get(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        lr_b, hr_b, _ = self.get_weighted(step)
        return lr_b, hr_b

    def get_weighted(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(lr, hr, per-sample band weights (N, C)) of the batch at ``step``."""
        idx = batch_indices(len(self.split), self.batch, step, self.seed)
        ops = np.random.default_rng([self.seed, step, 1]).integers(0, 8, len(idx))
        offsets = self._offsets(step, len(idx))
        lrs, hrs = [], []
        for j, (i, op, (r, c)) in enumerate(zip(idx, ops, offsets, strict=True)):
            hr = np.asarray(self.split.hr[i])
            if self.family is not None:
                member = self.family.draw(np.random.default_rng([self.seed, step, j, 3]), hr.shape[0])
                lr = member.apply(hr, self.split.scale, np.random.default_rng([self.seed, step, j, 4]))
            else:
                lr = np.asarray(self.split.lr[i])
            if self.crop is not None:
                k, s = self.crop, self.split.scale
                lr, hr = lr[:, r:r + k, c:c + k], hr[:, r * s:(r + k) * s, c * s:(c + k) * s]
            if self.augment:
                lr, hr = dihedral(lr, int(op)), dihedral(hr, int(op))
            lrs.append(lr)
            hrs.append(hr)
        lr_b = (np.stack(lrs).astype(np.float32) - self.mean) / self.std
        hr_b = (np.stack(hrs).astype(np.float32) - self.mean) / self.std
        w = np.asarray(self.split.weights[idx], np.float32)
        return torch.from_numpy(lr_b), torch.from_numpy(hr_b), torch.from_numpy(w)

    def _offsets(self, step: int, n: int) -> list[tuple[int, int]]:
        """Top-left LR offsets of the random crops of the batch at ``step`` (seeded by (seed, step))."""
        if self.crop is None:
            return [(0, 0)] * n
        hi = self.split.lr_patch - self.crop + 1
        rc = np.random.default_rng([self.seed, step, 2]).integers(0, hi, (n, 2))
        return [(int(r), int(c)) for r, c in rc]


def _empty_val_fix(ds: Dataset) -> str:
    """prepare's own explanation, from what it recorded (prepare.json)."""
    from s2sr.data.sampling import empty_split_fix

    m = ds.manifest
    sp = m.split if m is not None else None
    if m is None or sp is None or sp.val_fraction is None or sp.block_lr_px is None or sp.gap_lr_px is None:
        return "re-run `s2sr prepare` (with --val-fraction > 0, and a smaller --split-block or larger images)"
    return empty_split_fix("val", sp.val_fraction, sp.blocks or {}, sp.block_lr_px, m.patch_size, sp.gap_lr_px)


def open_train_val(ds: Dataset) -> tuple[SplitReader, SplitReader]:
    """Open the train and val splits; val must not be empty."""
    tr, va = ds.split("train"), ds.split("val")
    if len(va) == 0:
        raise InputError(f"{ds.root}: the val split is empty: {_empty_val_fix(ds)}")
    if tr.bands != va.bands or tr.scale != va.scale:
        raise InputError(f"{ds.root}: train and val splits disagree on bands/scale; re-run `s2sr prepare`")
    return tr, va
