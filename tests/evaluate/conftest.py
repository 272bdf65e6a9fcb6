"""Fixtures for evaluate tests: a bicubic model bundle and small seeded images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from s2sr.archs import build_arch
from s2sr.bundle import ModelBundle
from s2sr.sensor import SensorModel

BANDS = ["B2", "B3", "B4", "B8"]


def smooth_image(shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """Seeded smooth noise in a reflectance-like range, uint16."""
    rng = np.random.default_rng(seed)
    b = rng.normal(size=shape).cumsum(axis=1).cumsum(axis=2)
    b = (b - b.min()) / np.ptp(b)
    return (500 + 3000 * b).astype("uint16")


@pytest.fixture
def bicubic_model(tmp_path: Path) -> Path:
    def make(scale: int = 4) -> Path:
        p = tmp_path / f"bicubic_x{scale}.pt"
        ModelBundle(arch="bicubic", arch_kwargs={"in_ch": 4, "scale": scale}, scale=scale, bands=list(BANDS),
                    mean=np.zeros(4), std=np.ones(4) * 1000, module=build_arch("bicubic", in_ch=4, scale=scale),
                    sensor=SensorModel(scale)).save(p)
        return p

    return make  # type: ignore[return-value]
