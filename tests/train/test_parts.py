"""Pieces of the loop: LR schedule, EMA, the stateless sampler, augmentation, normalisation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from s2sr.data.store import open_split
from s2sr.train.config import OptimCfg
from s2sr.train.data import Batches, batch_indices, dihedral, norm_stats
from s2sr.train.ema import Ema
from s2sr.train.schedule import lr_factor


def test_lr_schedules() -> None:
    cos = OptimCfg(schedule="cosine", warmup_steps=10, min_lr_ratio=0.1)
    assert lr_factor(cos, 0, 110) == pytest.approx(0.1)  # warmup (1/10)
    assert lr_factor(cos, 9, 110) == pytest.approx(1.0)
    assert lr_factor(cos, 10, 110) == pytest.approx(1.0)
    assert lr_factor(cos, 60, 110) == pytest.approx(0.1 + 0.9 * 0.5)
    assert lr_factor(cos, 110, 110) == pytest.approx(0.1)
    step = OptimCfg(schedule="step", step_size=100, gamma=0.5)
    assert [lr_factor(step, s, 1000) for s in (0, 99, 100, 250)] == [1.0, 1.0, 0.5, 0.25]
    assert lr_factor(OptimCfg(schedule="constant"), 500, 10) == 1.0


def test_ema_tracks_weights_with_warmup() -> None:
    m = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        m.weight.fill_(0.0)
    ema = Ema(m, decay=0.9)
    with torch.no_grad():
        m.weight.fill_(1.0)
    ema.update(m, step=0)  # d = min(0.9, 1/10) = 0.1 -> 0.9 of the new weights
    assert float(ema.module.weight[0, 0]) == pytest.approx(0.9)
    for t in range(1, 200):
        ema.update(m, t)
    assert float(ema.module.weight[0, 0]) == pytest.approx(1.0, abs=1e-6)
    assert not any(p.requires_grad for p in ema.module.parameters())


def test_batch_indices_are_seeded_epoch_permutations() -> None:
    n, b = 10, 4
    seq = np.concatenate([batch_indices(n, b, k, seed=3) for k in range(5)])  # 20 samples = 2 epochs
    assert sorted(seq[:10]) == list(range(10)) and sorted(seq[10:20]) == list(range(10))
    assert np.array_equal(batch_indices(n, b, 2, 3), seq[8:12])  # pure function of the step
    assert not np.array_equal(seq[:10], seq[10:20])
    assert not np.array_equal(batch_indices(n, b, 0, 4), seq[:4])


def test_dihedral_gives_eight_distinct_transforms() -> None:
    a = np.arange(9, dtype=np.float32).reshape(1, 3, 3)
    outs = {dihedral(a, op).tobytes() for op in range(8)}
    assert len(outs) == 8
    assert np.array_equal(dihedral(a, 0), a)


def test_norm_stats_and_batches(tiny_store: Callable[..., Path]) -> None:
    ds = tiny_store(n_train=6, n_val=2, lr_patch=4, scale=2)
    tr = open_split(ds, "train")
    mean, std = norm_stats(tr, 100, 0)
    lr = np.asarray(tr.lr, np.float64)
    np.testing.assert_allclose(mean, lr.mean(axis=(0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(std, lr.std(axis=(0, 2, 3)), rtol=1e-4)
    b = Batches(tr, 3, seed=1, mean=mean, std=std, augment=True)
    x1, y1 = b.get(5)
    x2, y2 = b.get(5)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert x1.shape == (3, 4, 4, 4) and y1.shape == (3, 4, 8, 8)
    # augmentation applies the same transform to LR and HR: the pair stays consistent
    from s2sr.sensor import SensorModel

    s = torch.as_tensor(std).view(1, -1, 1, 1)
    m = torch.as_tensor(mean).view(1, -1, 1, 1)
    lr_units, hr_units = x1 * s + m, y1 * s + m
    area = SensorModel(2).degrade_torch(hr_units.double())
    # patches were cut from a whole-image degradation, so only the interior must agree
    assert float((area - lr_units.double())[..., 1:-1, 1:-1].abs().max()) < 1.0
    assert float((area - lr_units.double().flip(-1))[..., 1:-1, 1:-1].abs().max()) > 10.0
