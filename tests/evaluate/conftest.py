"""Helpers for evaluate tests: small seeded images."""

from __future__ import annotations

import numpy as np


def smooth_image(shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """Seeded smooth noise in a reflectance-like range, uint16."""
    rng = np.random.default_rng(seed)
    b = rng.normal(size=shape).cumsum(axis=1).cumsum(axis=2)
    b = (b - b.min()) / np.ptp(b)
    return (500 + 3000 * b).astype("uint16")
