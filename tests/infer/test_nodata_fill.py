"""Nodata is filled from the neighbourhood only, so the output does not depend on the tile size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from s2sr.infer.apply import ApplyConfig, apply_model
from s2sr.infer.tilework import fill_invalid
from s2sr.synth import synthesise


def test_fill_depends_only_on_the_neighbourhood() -> None:
    rng = np.random.default_rng(0)
    data = rng.uniform(500, 3000, (2, 60, 70)).astype(np.float32)
    valid = rng.uniform(size=(60, 70)) > 0.3
    valid[20:45, 10:40] = False  # a hole wider than the radius: its middle gets the fallback
    whole = fill_invalid(data, valid, 3, (1500.0, 700.0))
    assert np.array_equal(whole[:, valid], data[:, valid])  # valid pixels untouched
    assert np.all(whole[:, 32, 25] == [1500.0, 700.0])  # nothing valid within 3 px
    r, c = 19, 12  # an invalid pixel next to data: the mean of the valid pixels in its 7 x 7 square
    valid[r, c] = False
    whole = fill_invalid(data, valid, 3, (1500.0, 700.0))
    sq = (slice(None), slice(r - 3, r + 4), slice(c - 3, c + 4))
    np.testing.assert_allclose(whole[:, r, c], data[sq][:, valid[sq[1:]]].mean(axis=1), rtol=1e-6)
    # any crop gives the same fill, 3 px away from its cut edges
    for r0, c0 in [(5, 7), (17, 30), (0, 0)]:
        crop = fill_invalid(data[:, r0:r0 + 33, c0:c0 + 29], valid[r0:r0 + 33, c0:c0 + 29], 3, (1500.0, 700.0))
        np.testing.assert_allclose(crop[:, 3:-3, 3:-3], whole[:, r0 + 3:r0 + 30, c0 + 3:c0 + 26], rtol=1e-6)


@pytest.fixture(scope="module")
def synthetic_lr(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesise(tmp_path_factory.mktemp("synth"), seed=0, size=1024, scale=4).lr


def test_tile_size_does_not_change_the_output_near_nodata(synthetic_lr: Path, tiny_conv, tmp_path: Path) -> None:
    """It did: the nodata fill was the mean of the tile, so up to 320 DN near the synthetic nodata strip."""
    outs = {}
    for tile in (32, 64, 128, 512):
        out = tmp_path / f"sr{tile}.tif"
        apply_model(tiny_conv, synthetic_lr, out, ApplyConfig(tile=tile, progress=False))
        with rasterio.open(out) as ds:
            outs[tile] = ds.read().astype(np.int64)
    with rasterio.open(synthetic_lr) as ds:
        lr_valid = (ds.read() != ds.nodata).all(axis=0)
    assert not lr_valid[:, :4].any() and lr_valid.mean() > 0.9  # a nodata strip along the west edge
    for tile in (32, 64, 128):
        assert np.abs(outs[tile] - outs[512]).max() <= 1, tile
