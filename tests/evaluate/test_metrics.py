"""Metric functions against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from s2sr.evaluate.metrics import (
    Stats,
    change_counts,
    ergas,
    psnr,
    sam,
    ssim,
    summarise,
    tile_stats,
)
from s2sr.sensor import SensorModel


def _img(seed: int = 0, shape=(4, 32, 32)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(500, 3500, size=shape)


def test_identical_images() -> None:
    x = _img()
    assert psnr(x, x, 10000) == math.inf
    assert sam(x, x) == pytest.approx(0.0, abs=1e-6)
    assert ergas(x, x, 4) == 0.0
    assert ssim(x, x, 3000) == pytest.approx(1.0, abs=1e-12)


def test_known_noise_level_gives_known_psnr() -> None:
    ref = np.full((2, 16, 16), 1000.0)
    noise = np.where(np.indices((2, 16, 16)).sum(0) % 2 == 0, 10.0, -10.0)  # MSE exactly 100
    assert psnr(ref + noise, ref, 1000) == pytest.approx(40.0, abs=1e-9)  # 10 log10(1e6 / 100)
    assert psnr(ref + 2 * noise, ref, 1000) == pytest.approx(40.0 - 20 * math.log10(2), abs=1e-9)


def test_sam_scaled_spectrum_is_zero_and_hand_angle() -> None:
    x = _img(1)
    assert sam(2.5 * x, x) == pytest.approx(0.0, abs=1e-5)
    ref = np.zeros((2, 1, 2))
    pred = np.zeros((2, 1, 2))
    ref[0] = 1.0  # (1, 0) at both pixels
    pred[:, 0, 0] = (1.0, 1.0)  # 45 degrees
    pred[:, 0, 1] = (0.0, 3.0)  # 90 degrees
    assert sam(pred, ref) == pytest.approx(67.5, abs=1e-9)


def test_ergas_formula_on_small_array() -> None:
    ref = np.stack([np.full((2, 2), 100.0), np.full((2, 2), 200.0)])
    pred = np.stack([np.full((2, 2), 110.0), np.full((2, 2), 180.0)])
    # RMSE/mean = 10/100 and 20/200 -> 100/4 * sqrt((0.01 + 0.01) / 2) = 2.5
    assert ergas(pred, ref, 4) == pytest.approx(2.5, abs=1e-12)
    assert ergas(pred, ref, 2) == pytest.approx(5.0, abs=1e-12)


def test_ssim_of_constant_images_matches_formula() -> None:
    a, b, L = 1000.0, 1200.0, 3000.0
    c1 = (0.01 * L) ** 2
    expected = (2 * a * b + c1) / (a * a + b * b + c1)  # no variance: contrast/structure terms are 1
    assert ssim(np.full((1, 12, 12), a), np.full((1, 12, 12), b), L) == pytest.approx(expected, rel=1e-9)
    assert ssim(_img(2) + np.random.default_rng(3).normal(0, 300, (4, 32, 32)), _img(2), 3000) < 0.95


def test_change_counts_partition() -> None:
    ref = np.array([[10.0, 10.0, 10.0, 0.0, 0.0]])
    bic = np.array([[0.0, 0.0, 0.0, 0.0, 0.0]])
    pred = np.array([[8.0, 0.5, -5.0, 6.0, 0.2]])
    # px0: moved, closer -> improvement; px1: stays at bicubic, ref differs -> omission;
    # px2: moved away, farther -> hallucination; px3: moved, ref == bicubic -> hallucination;
    # px4: no structure (neither moved nor ref differs)
    assert change_counts(pred, ref, bic, tol=1.0).tolist() == [1, 1, 2]


def test_summary_fractions_sum_to_one_and_hf_terms() -> None:
    ref = _img(4, (3, 24, 24))
    sensor = SensorModel(2)
    bic = sensor.blur(ref)
    pred = ref + 0.3 * (bic - ref)
    st = tile_stats(pred, ref, np.ones((24, 24), bool), np.full(3, 3000.0), sensor=sensor, bicubic=bic, tol=5.0)
    s = summarise(st, np.full(3, 3000.0), 2)["overall"]
    assert s["improvement"] + s["omission"] + s["hallucination"] == pytest.approx(1.0)
    assert s["improvement"] == pytest.approx(1.0)  # pred lies between bicubic and ref everywhere
    same = summarise(tile_stats(ref, ref, np.ones((24, 24), bool), np.full(3, 3000.0), sensor=sensor), np.full(3, 3000.0), 2)
    assert same["overall"]["hf_corr"] == pytest.approx(1.0)
    assert same["overall"]["grad_ratio"] == pytest.approx(1.0)
    smooth = summarise(tile_stats(bic, ref, np.ones((24, 24), bool), np.full(3, 3000.0)), np.full(3, 3000.0), 2)
    assert smooth["overall"]["grad_ratio"] < 0.8


def test_stats_add_up_across_tiles() -> None:
    ref, pred = _img(5), _img(6)
    L = np.full(4, 3000.0)
    left = np.zeros((32, 32), bool)
    left[:, :16] = True
    whole = summarise(tile_stats(pred, ref, np.ones((32, 32), bool), L), L, 4)["overall"]
    parts = tile_stats(pred, ref, left, L) + tile_stats(pred, ref, ~left, L)
    split = summarise(parts, L, 4)["overall"]
    for k in ("psnr", "sam", "ergas", "ssim"):
        assert split[k] == pytest.approx(whole[k], rel=1e-12)
    assert isinstance(parts, Stats) and parts.n == 32 * 32
