"""The degradation fitted from unpaired images, on images whose MTF, noise and gains are known."""

from __future__ import annotations

import numpy as np
import pytest

from s2sr.data.unpaired.bandmap import map_hr_bands
from s2sr.data.unpaired.mtf import EdgeFitSettings, fit_mtf, mtf_of_sigma
from s2sr.data.unpaired.noise import fit_noise
from s2sr.data.unpaired.radiometry import fit_radiometry
from s2sr.errors import InputError
from s2sr.sensor import SensorModel


def _fields(seed: int, n_lr: int = 96, scale: int = 8) -> np.ndarray:
    """A fine-grid image of straight-edged 'fields' (random half-plane cuts), 4 bands."""
    rng = np.random.default_rng(seed)
    n = n_lr * scale
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64)
    label = np.zeros((n, n), np.int64)
    for k in range(14):
        t = rng.uniform(0, np.pi)
        c = rng.uniform(0.1, 0.9) * n
        label += (np.cos(t) * xx + np.sin(t) * yy > c * (np.cos(t) + np.sin(t))) << k % 6
    levels = rng.uniform(300, 3000, size=(4, label.max() + 1))
    return np.stack([lv[label] for lv in levels])


@pytest.mark.parametrize("mtf", [0.2, 0.35])
def test_mtf_fit_recovers_a_known_blur(mtf: float) -> None:
    sensor = SensorModel(8, mtf)
    lr = sensor.degrade(_fields(1)).astype(np.float64)
    lr += np.random.default_rng(2).normal(0, 5, lr.shape)
    fit, per_image = fit_mtf([(lr, np.ones(lr.shape[1:], bool), [5.0] * 4)], EdgeFitSettings(max_fits=400))
    assert fit is not None and per_image[0] == fit.edges >= 30
    assert fit.mtf_nyquist == pytest.approx(mtf, rel=0.10)
    assert fit.mtf_nyquist == pytest.approx(mtf_of_sigma(fit.sigma_lr))


def test_mtf_fit_without_edges_gives_none() -> None:
    rng = np.random.default_rng(0)
    smooth = 1000 + 50 * np.cumsum(np.cumsum(rng.normal(size=(4, 48, 48)), axis=1), axis=2) / 48
    fit, per_image = fit_mtf([(smooth, np.ones((48, 48), bool), [5.0] * 4)], EdgeFitSettings(max_fits=200))
    assert fit is None and per_image == [0]


def test_noise_fit_recovers_signal_dependent_noise() -> None:
    rng = np.random.default_rng(3)
    levels = np.repeat(np.linspace(500, 3500, 8), 32)  # flat stripes of 8 signal levels
    clean = np.broadcast_to(levels[None, :, None], (2, 256, 256)).copy()
    noisy = clean + rng.normal(size=clean.shape) * (4.0 + 0.005 * clean)
    fit = fit_noise([(noisy, np.ones((256, 256), bool))])
    for b in range(2):
        assert fit.std_at(b, 2000.0) == pytest.approx(4.0 + 0.005 * 2000, rel=0.1)
        assert fit.b[b] == pytest.approx(0.005, rel=0.3)


def test_noise_fit_removes_the_texture_of_a_reference() -> None:
    """Texture the noise-free reference also has is not counted as noise."""
    rng = np.random.default_rng(4)
    texture = 1500 + 40 * rng.normal(size=(1, 256, 256))
    noisy = texture + rng.normal(0, 8.0, texture.shape)
    ref = 1500 + 40 * rng.normal(size=(1, 256, 256))
    ok = np.ones((256, 256), bool)
    plain = fit_noise([(noisy, ok)]).std_median[0]
    fit = fit_noise([(noisy, ok)], reference=[(ref, ok)]).std_median[0]
    assert plain > 30  # texture read as noise
    assert fit == pytest.approx(8.0, rel=0.35)


def test_radiometry_recovers_gain_and_offset_of_the_same_content() -> None:
    hr = SensorModel(8, 0.3).degrade(_fields(5)).astype(np.float64)
    gains, offs = np.array([0.9, 1.1, 0.5, 2.0]), np.array([50.0, -30.0, 200.0, 0.0])
    lr = hr * gains[:, None, None] + offs[:, None, None]
    ok = np.ones(hr.shape[1:], bool)
    fit = fit_radiometry([(lr, ok)], [(hr, ok)])
    np.testing.assert_allclose(fit.gains, gains, rtol=0.01)
    np.testing.assert_allclose(fit.offsets, offs, atol=0.02 * 3000)
    np.testing.assert_allclose(fit.apply(hr[:, :4, :4]), lr[:, :4, :4], rtol=0.01, atol=10)
    assert fit.source == ("clusters",) * 4 and max(fit.cluster_mismatch) < 0.03


@pytest.mark.shared_data
def test_radiometry_keeps_the_quantile_line_when_clusters_disagree(shared_data) -> None:
    """Rural NAIP (North Dakota) against urban S2 (Montpellier) share few land covers: where the
    cluster line matches the distributions badly, the band keeps the quantile line and says so."""
    from s2sr.data.unpaired.fit import degrade_valid
    from s2sr.data.unpaired.inputs import read_hr, read_s2

    hr = read_hr(shared_data / "aerial/naip_m_4709963_se_14_20180716_5m.tif", ["B2", "B3", "B4", "B8"], None,
                 5.0, 4, 20.0, 10**8)
    lrd, ok = degrade_valid(hr.data, hr.valid, SensorModel(2, 0.23))
    s2 = read_s2(shared_data / "oscd/montpellier_20150812.tif", [1, 2, 3, 4], 10.0, 4000, 2048)
    fit = fit_radiometry([(s2.data, s2.valid)], [(lrd, ok)])
    assert "quantiles" in fit.source and "clusters" in fit.source
    for b, src in enumerate(fit.source):
        if src == "quantiles":
            assert fit.gains[b] == fit.quantile_gains[b] and fit.offsets[b] == fit.quantile_offsets[b]
            assert fit.cluster_mismatch[b] > max(4 * fit.rel_residual[b], 0.10)
        else:
            assert fit.cluster_mismatch[b] <= max(4 * fit.rel_residual[b], 0.10)


def test_band_map_from_names_and_from_the_option() -> None:
    lr = ["B2", "B3", "B4", "B8"]
    assert map_hr_bands("naip.tif", ("R", "G", "B", "NIR"), 4, lr, None)[0] == [3, 2, 1, 4]
    assert map_hr_bands("x.tif", ("Blue", "Green", "Red", "NIR"), 4, lr, None)[0] == [1, 2, 3, 4]
    assert map_hr_bands("x.tif", (None,) * 4, 4, lr, [3, 2, 1, 4]) == ([3, 2, 1, 4], "--hr-bands")
    with pytest.raises(InputError, match=r"x\.tif: no band for B2 .*--hr-bands"):
        map_hr_bands("x.tif", (None,) * 4, 4, lr, None)
    with pytest.raises(InputError, match=r"rgb\.tif: has 3 band\(s\) but the LR bands B2,B3,B4,B8 need 4"):
        map_hr_bands("rgb.tif", ("R", "G", "B"), 3, lr, None)
