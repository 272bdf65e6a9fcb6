from __future__ import annotations

import numpy as np
import pytest
import torch
from affine import Affine
from rasterio.windows import Window

from s2sr.errors import ConfigError
from s2sr.grid import Grid, check_scale, clip_window, fine_grid, fine_window
from s2sr.sensor import SensorModel, area_downsample


def test_fine_grid_keeps_bounds_and_origin_at_odd_sizes():
    lr = Grid(Affine(10, 0, 300005.0, 0, -10, 5000003.0), 37, 23)
    fg = fine_grid(lr, 3)
    assert (fg.width, fg.height) == (111, 69)
    assert fg.res == pytest.approx((10 / 3, 10 / 3))
    assert fg.bounds == pytest.approx(lr.bounds)
    # an LR pixel edge is a fine pixel edge
    assert fg.transform @ (3, 3) == pytest.approx(lr.transform @ (1, 1))


def test_fine_window_and_clip_at_edges():
    assert fine_window(Window(2, 5, 7, 3), 4) == Window(8, 20, 28, 12)
    assert clip_window(Window(-3, 30, 10, 10), 20, 35) == Window(0, 30, 7, 5)
    assert clip_window(Window(25, 0, 10, 10), 20, 35).width == 0


@pytest.mark.parametrize("bad", ["2.5", "1", "9", "x", 0])
def test_check_scale_rejects(bad):
    with pytest.raises(ConfigError, match="integer"):
        check_scale(bad)


def test_check_scale_accepts_float_integer():
    assert check_scale("4.0") == 4


def test_one_scale_check_for_synth_archs_and_sensor(tmp_path):
    """synth, the architectures and the sensor model all refuse a scale through check_scale."""
    from s2sr.archs import build_arch
    from s2sr.synth import synthesise

    for make in (lambda: synthesise(tmp_path / "s", size=256, scale=9), lambda: build_arch("light", scale=9),
                 lambda: SensorModel(9)):
        with pytest.raises(ConfigError, match="scale 9 is not an integer in 2..8"):
            make()


def test_mtf_at_nyquist_matches_parameter():
    s = SensorModel(scale=4, mtf_nyquist=0.3)
    k = s.kernel1d()
    x = np.arange(len(k)) - (len(k) - 1) / 2
    # Nyquist of the LR grid = 0.5 cycles / LR px = 0.5/scale cycles / fine px
    f = 0.5 / s.scale
    mtf = abs(np.sum(k * np.exp(-2j * np.pi * f * x)))
    assert mtf == pytest.approx(0.3, abs=0.01)


def test_degrade_numpy_equals_torch_and_preserves_mean():
    s = SensorModel(scale=3)
    rng = np.random.default_rng(1)
    hr = rng.random((2, 48, 60)).astype(np.float32) * 1000
    a = s.degrade(hr)
    b = s.degrade_torch(torch.from_numpy(hr)[None].double()).numpy()[0]
    assert a.shape == (2, 16, 20)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-3)
    const = np.full((1, 30, 30), 1234.0, np.float32)
    np.testing.assert_allclose(s.degrade(const), 1234.0, rtol=1e-6)


def test_area_downsample_is_block_mean():
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4)
    np.testing.assert_allclose(area_downsample(x, 2)[0], [[2.5, 4.5], [10.5, 12.5]])
    with pytest.raises(ValueError):
        area_downsample(np.zeros((5, 5)), 2)
