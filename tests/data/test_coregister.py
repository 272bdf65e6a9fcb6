"""Shift and gain recovery: phase correlation on known shifts, and prepare vs truth.json."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from s2sr.data.coregister import phase_correlation
from s2sr.data.harmonise import robust_linear_fit


@pytest.mark.parametrize("dx,dy", [(0.3, -0.7), (-0.45, 0.12), (2.25, 1.0), (0.0, 0.0)])
def test_phase_correlation_recovers_known_shift(dx, dy):
    rng = np.random.default_rng(3)
    b = ndimage.gaussian_filter(rng.random((3, 96, 96)), (0, 1.5, 1.5))
    a = ndimage.shift(b, (0, dy, dx), order=3, mode="wrap")  # a(x) = b(x - d)
    ex, ey = phase_correlation(a, b)
    assert ex == pytest.approx(dx, abs=0.03)
    assert ey == pytest.approx(dy, abs=0.03)


def test_robust_fit_ignores_outliers():
    rng = np.random.default_rng(0)
    x = rng.uniform(100, 3000, 5000)
    y = 0.93 * x + 42 + rng.normal(0, 5, x.size)
    y[:400] = 7000  # clouds
    g, o = robust_linear_fit(x, y)
    assert g == pytest.approx(0.93, rel=0.005)
    assert o == pytest.approx(42, abs=5)


@pytest.mark.parametrize("seed", [0, 1, 2, 5])
def test_prepare_recovers_synthetic_shift_and_gains(prepared, seed):
    res, scene = prepared(seed, coregister=True, harmonise=True)
    truth = json.loads(scene.truth.read_text())
    meta = json.loads(res.prepare_json.read_text())
    shift = meta["pairs"][0]["shift_lr_px"]
    assert abs(shift["dx"] - truth["shift_lr_px"]["dx"]) < 0.1
    assert abs(shift["dy"] - truth["shift_lr_px"]["dy"]) < 0.1
    h = meta["pairs"][0]["harmonisation"]
    assert h["applied"] is True
    np.testing.assert_allclose(h["gains"], truth["gains"], rtol=0.02)
    np.testing.assert_allclose(h["offsets"], truth["offsets"], atol=40)
