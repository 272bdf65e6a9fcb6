"""Seeded LR/SR/HR triplets for the opensr-test formula check (numpy only, no s2sr code).

Used by ``tests/evaluate/test_opensr.py`` and by ``benchmarks/opensr_reference.py``, which
runs the real opensr-test package on the same arrays and records its values.
"""

from __future__ import annotations

import numpy as np

SCALE = 4
SIZE = 160  # HR pixels a side (LR 40); opensr-test crops 16 px (4 LR px) of border


def _box(x: np.ndarray, r: int) -> np.ndarray:
    """Separable box mean of width 2r+1 over the last two axes (edges replicated)."""
    for axis in (-1, -2):
        pad = [(0, 0)] * x.ndim
        pad[axis] = (r + 1, r)
        c = np.cumsum(np.pad(x, pad, mode="edge"), axis=axis)
        n = x.shape[axis]
        x = (np.take(c, np.arange(2 * r + 1, 2 * r + 1 + n), axis=axis)
             - np.take(c, np.arange(n), axis=axis)) / (2 * r + 1)
    return x


def _bilinear_up(lr: np.ndarray, s: int) -> np.ndarray:
    """Bilinear upsampling on pixel centres, edges clamped (what torch does for align_corners=False)."""
    def weights(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = np.clip((np.arange(n * s) + 0.5) / s - 0.5, 0, None)
        i0 = np.floor(x).astype(int)
        return np.clip(i0, 0, n - 1), np.clip(i0 + 1, 0, n - 1), x - i0

    r0, r1, ay = weights(lr.shape[-2])
    c0, c1, ax = weights(lr.shape[-1])
    rows = lr[:, r0, :] * (1 - ay)[:, None] + lr[:, r1, :] * ay[:, None]
    return rows[:, :, c0] * (1 - ax) + rows[:, :, c1] * ax


def make_cases(seed: int = 12) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(lr, hr, {name: sr}) float32 reflectance arrays: HR (4, 160, 160), LR its 4x4 block mean."""
    rng = np.random.default_rng(seed)
    field = _box(rng.random((1, SIZE, SIZE)), 2)  # shared texture
    blocks = np.kron(rng.random((1, SIZE // 8, SIZE // 8)), np.ones((8, 8)))  # "buildings"
    own = _box(rng.random((4, SIZE, SIZE)), 1)
    gain = np.array([0.6, 0.8, 1.0, 1.6])[:, None, None]
    hr = 0.03 + 0.12 * gain * (0.5 * field + 0.4 * blocks + 0.1 * own)
    hr = hr.astype(np.float32)
    lr = hr.reshape(4, SIZE // SCALE, SCALE, SIZE // SCALE, SCALE).mean(axis=(2, 4)).astype(np.float32)
    up = _bilinear_up(lr.astype(np.float64), SCALE)
    nearest = np.repeat(np.repeat(lr, SCALE, 1), SCALE, 2)
    noise = rng.random(hr.shape) - 0.5
    srs = {
        "bilinear": up,
        "nearest": nearest,
        "sharp": 0.7 * hr + 0.3 * up,
        "noisy": up + 0.03 * _box(noise, 0) * gain,
        "shifted": 1.1 * np.roll(hr, (1, -2), axis=(1, 2)) + 0.01 + 0.002 * noise,
    }
    return lr, hr, {k: v.astype(np.float32) for k, v in srs.items()}
