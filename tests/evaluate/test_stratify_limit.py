"""Density strata and the --max-pixels tile draw."""

from __future__ import annotations

import json

import numpy as np

from s2sr.evaluate.config import make_eval_config
from s2sr.evaluate.run import evaluate
from s2sr.evaluate.stratify import assign_strata, edge_density, strata_edges

from .conftest import smooth_image


def test_strata_split_tiles_at_density_quantiles() -> None:
    dens = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    edges = strata_edges(dens, 3)
    assert edges[0] == 0.0 and edges[-1] == 0.8
    assert assign_strata(dens, edges) == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_edge_density_counts_strong_gradients() -> None:
    ref = np.zeros((2, 20, 20))
    ref[:, :, 10:] = 1000.0  # one vertical step edge
    mask = np.ones((20, 20), bool)
    # Sobel/8 of a 1000 step is 500 on the two columns beside it, 0 elsewhere
    assert edge_density(ref, mask, 100.0) == 2 / 20
    assert edge_density(ref, mask, 600.0) == 0.0


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
