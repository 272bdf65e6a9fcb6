"""Density strata and the --max-pixels tile draw."""

from __future__ import annotations

import json

import numpy as np
import pytest

from s2sr.evaluate.config import make_eval_config
from s2sr.evaluate.run import evaluate
from s2sr.evaluate.stratify import (
    assign_strata,
    edge_threshold,
    gradient_histogram,
    strata_edges,
    tile_density,
)

from .conftest import smooth_image


def test_strata_split_tiles_at_density_quantiles() -> None:
    dens = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    edges = strata_edges(dens, 3)
    assert edges[0] == 0.0 and edges[-1] == 0.8
    assert assign_strata(dens, edges) == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_edge_density_is_relative_to_the_scene_median_gradient() -> None:
    ref = np.zeros((2, 20, 20))
    ref[:, :, 10:] = 1000.0  # one vertical step edge
    mask = np.ones((20, 20), bool)
    h = gradient_histogram(ref, mask, 1000.0)
    # Sobel/8 of a 1000 step is 500 on the two columns beside it, 0 elsewhere
    assert h.sum() == 400 and h[0] == 360
    k, t = edge_threshold([h], 0.5, 1000.0)
    assert t == pytest.approx(1e-3)  # lowest bin edge: the median gradient is 0
    assert tile_density(h, k) == 2 / 20
    k, t = edge_threshold([h], 0.95, 1000.0)  # the 95th percentile is the 500 of the edge
    assert 500 < t <= 500 * 10 ** 0.01 and tile_density(h, k) == 0.0
    assert np.isnan(tile_density(np.zeros_like(h), k))


def _two_textures(seed: int) -> np.ndarray:
    """Left half dense (strong per-pixel texture), right half sparse (a third of it): both 'edges' at 2 % of range."""
    rng = np.random.default_rng(seed)
    base = np.full((4, 128, 128), 2000.0)
    base[:, :, :64] += 3000 * rng.random((1, 128, 64))
    base[:, :, 64:] += 1000 * rng.random((1, 128, 64))
    return base.astype("uint16")


def test_strata_separate_dense_from_sparse_where_a_fixed_threshold_saturates(make_raster, bicubic_model,
                                                                             tmp_path) -> None:
    img = make_raster("img.tif", data=_two_textures(4), nodata=None)
    res = evaluate(make_eval_config(model=bicubic_model(4), wald=img, out=tmp_path / "ev", tile=8, opensr=False,
                               progress=False, keep_sr=False))
    doc = json.loads(res.metrics_path.read_text())
    # the previous rule (|grad| > 2 % of the mean data range) marked both halves as edges
    from s2sr.evaluate.metrics import grad_mag

    ref = _two_textures(4).astype(np.float64)
    g = grad_mag(ref.mean(axis=0, keepdims=True))[0]
    fixed = 0.02 * float(np.mean(doc["data_range"]))
    assert (g[:, 64:] > fixed).mean() > 0.9 and (g[:, :64] > fixed).mean() > 0.95
    # scene-relative: the sparse half's tiles fall to the bottom, the dense half's to the top
    dens = {(t["col_off"], t["row_off"]): t["density"] for t in doc["tiles"]}
    left = [d for (c, _), d in dens.items() if c < 64]
    right = [d for (c, _), d in dens.items() if c >= 64]
    assert min(left) > 0.7 and max(right) < 0.3
    sparse, dense = doc["strata"][0], doc["strata"][-1]
    assert dense["density_min"] - sparse["density_max"] > 0.4
    assert 0 < doc["edge_threshold"] < fixed * 10
    assert doc["config"]["edge_quantile"] == 0.5


def test_max_pixels_draws_whole_tiles_reproducibly(make_raster, bicubic_model, tmp_path) -> None:
    img = make_raster("img.tif", data=smooth_image((4, 128, 128), 9), nodata=None)
    model = bicubic_model(4)
    runs = []
    for i in range(2):
        res = evaluate(make_eval_config(model=model, wald=img, out=tmp_path / f"ev{i}", tile=8, max_pixels=5000,
                                   seed=3, progress=False, keep_sr=False))
        doc = json.loads(res.metrics_path.read_text())
        runs.append([(t["col_off"], t["row_off"]) for t in doc["tiles"]])
        assert res.pixels == 4 * 32 * 32  # 4 whole tiles fit in 5000 pixels
    assert runs[0] == runs[1]
