"""Tiny seeded patch stores: smooth random HR scenes with sharp rectangles, degraded
to LR with the sensor model, cut into aligned patches (plus a prepare.json)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from s2sr.bands import DEFAULT_BANDS
from s2sr.data.manifest import Manifest, SensorRecord, write_manifest
from s2sr.data.store import StoreWriter
from s2sr.sensor import SensorModel


def hr_scene(rng: np.random.Generator, bands: int, size: int) -> np.ndarray:
    """(bands, size, size) float32 reflectance x 10000: smooth field + random rectangles."""
    base = gaussian_filter(rng.normal(size=(size, size)), 6) * 40
    img = np.empty((bands, size, size), np.float64)
    for b in range(bands):
        img[b] = 1500 + 300 * b + 200 * base / (np.abs(base).max() + 1e-9)
    for _ in range(size // 3):
        h, w = rng.integers(2, size // 6, 2)
        r, c = rng.integers(0, size - h), rng.integers(0, size - w)
        img[:, r:r + h, c:c + w] += rng.uniform(-800, 800, (bands, 1, 1))
    return np.clip(img, 1, None).astype(np.float32)


def write_store(root: Path, *, n_train: int = 32, n_val: int = 8, lr_patch: int = 8, scale: int = 2,
                bands: list[str] | None = None, seed: int = 0, mtf: float = 0.3,
                prepare_json: bool = True) -> Path:
    bands = bands or list(DEFAULT_BANDS)
    rng = np.random.default_rng(seed)
    sensor = SensorModel(scale, mtf)
    hp = lr_patch * scale
    for split, n in (("train", n_train), ("val", n_val), ("test", 0)):
        w = StoreWriter(root, split, bands, lr_patch, scale)
        per_side = 4
        done = 0
        while done < n:
            hr = hr_scene(rng, len(bands), hp * per_side)
            lr = sensor.degrade(hr)
            for i in range(per_side * per_side):
                if done == n:
                    break
                r, c = divmod(i, per_side)
                w.add(lr[:, r * lr_patch:(r + 1) * lr_patch, c * lr_patch:(c + 1) * lr_patch],
                      hr[:, r * hp:(r + 1) * hp, c * hp:(c + 1) * hp], {"id": done, "pair": 0})
                done += 1
        w.close()
    if prepare_json:
        write_manifest(root, Manifest(scale=scale, patch_size=lr_patch, bands=bands, lr_res=10.0, lr_res_m=10.0, input_res_m=10.0,
                                      sensor=SensorRecord(scale=scale, mtf_nyquist=mtf), crs="EPSG:32631",
                                      counts={"train": n_train, "val": n_val, "test": 0}))
    return root


@pytest.fixture
def tiny_store(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``tiny_store(name="ds", **write_store kwargs)`` -> dataset folder."""

    def _make(name: str = "ds", **kw: object) -> Path:
        return write_store(tmp_path / name, **kw)  # type: ignore[arg-type]

    return _make
