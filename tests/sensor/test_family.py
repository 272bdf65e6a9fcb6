"""The degradation family: seeded, its MTF range holds on synthetic edges, the named members do what
their names say."""

from __future__ import annotations

import math

import numpy as np
import pytest

from s2sr.sensor import NAMED, Degradation, DegradationFamily, SensorModel, named, parse_names
from s2sr.sensor.family import DETECTOR_MTF, keys_weights


def _nyquist_response(member: Degradation, scale: int = 4, axis: int = -1) -> float:
    """Measured transfer at the LR Nyquist: a fine-grid cosine of 0.5 cycle per LR px, degraded; its
    LR amplitude over the input's (the cosine peaks on LR pixel centres, so sampling keeps it whole)."""
    n = 64 * scale
    x = np.arange(n) + 0.5 - scale / 2  # fine-pixel centres, 0 at the centre of LR pixel 0
    wave = np.cos(2 * math.pi * x / (2 * scale))
    img = np.broadcast_to(wave, (n, n)) if axis == -1 else np.broadcast_to(wave[:, None], (n, n))
    lr = member.blur_area(1000.0 + 100.0 * img[None], scale)[0]
    prof = lr[32, 16:48] if axis == -1 else lr[16:48, 32]
    return float(np.abs(prof - prof.mean()).mean() / 100.0)


def test_system_mtf_is_measured_on_a_synthetic_edge_pattern() -> None:
    # the detector is a mean of 4 fine pixels: its transfer at the LR Nyquist is 1 / (4 sin(pi / 8)) = 0.653,
    # 2.6 % above the continuous 2 / pi that system_mtf states
    for mtf in (0.2, 0.3, 0.5):
        m = Degradation("t", mtf, mtf, quantise=False)
        assert _nyquist_response(m) == pytest.approx(m.system_mtf[0], rel=0.04)
    assert _nyquist_response(named("area")) == pytest.approx(1 / (4 * math.sin(math.pi / 8)), rel=1e-3)
    assert pytest.approx(2 / math.pi) == DETECTOR_MTF


def test_family_draws_are_seeded_and_stay_in_the_stated_mtf_range() -> None:
    fam = DegradationFamily()
    a = [fam.draw(np.random.default_rng([7, i]), 4) for i in range(200)]
    b = [fam.draw(np.random.default_rng([7, i]), 4) for i in range(200)]
    assert a == b
    assert a[0] != a[1]
    lo, hi = fam.system_mtf
    sys_x = np.array([m.system_mtf[0] for m in a])
    sys_y = np.array([m.system_mtf[1] for m in a])
    assert sys_x.min() >= lo * (1 - fam.anisotropy) - 1e-9 and sys_x.max() <= hi * (1 + fam.anisotropy) + 1e-9
    assert 0.8 * lo < np.median(sys_x) < 1.2 * hi and (sys_x != sys_y).all()  # mild anisotropy
    measured = [_nyquist_response(Degradation("t", m.mtf_x, m.mtf_y, quantise=False)) for m in a[:10]]
    assert np.allclose(measured, sys_x[:10], rtol=0.05)
    shares = np.mean([m.resample_x is not None for m in a])
    assert 0.6 < shares < 0.9
    assert max(abs(m.shift_x) for m in a) <= fam.shift_max


def test_mtf03_member_is_the_sensor_model_operator() -> None:
    hr = np.random.default_rng(0).uniform(0, 5000, (4, 96, 96))
    assert np.allclose(named("mtf0.3").blur_area(hr, 4), SensorModel(4, 0.3).degrade(hr), atol=1e-2)


def test_shift_moves_content_and_cubic_resampling_keeps_ramps() -> None:
    ramp = np.tile(np.arange(128, dtype=np.float64), (1, 128, 1))
    base = named("mtf0.3").blur_area(ramp, 4)
    shifted = named("shift0.3").blur_area(ramp, 4)
    assert np.allclose((shifted - base)[0, 10:-10, 10:-10], 0.3 * 4, atol=0.01)  # 0.3 LR px east = 1.2 fine px
    l1c = Degradation("r", 0.3, 0.3, resample_x=0.37, resample_y=-0.2, quantise=False).blur_area(ramp, 4)
    assert np.allclose(l1c[0, 5:-5, 5:-5], base[0, 5:-5, 5:-5], atol=0.01)
    assert keys_weights(0.0) == pytest.approx([0, 1, 0, 0])
    assert keys_weights(0.3).sum() == pytest.approx(1.0)


def test_noise_gain_and_rounding() -> None:
    hr = np.full((2, 64, 64), 1000.0)
    clean = named("mtf0.3").apply(hr, 4)
    noisy = named("noise30").apply(hr, 4, np.random.default_rng(0))
    assert (clean == 1000).all()
    assert noisy.std() == pytest.approx(30, rel=0.1) and (noisy == np.rint(noisy)).all()
    g = Degradation("g", 0.3, 0.3, gains=(1.02, 0.98)).apply(hr, 4)
    assert g[0].mean() == pytest.approx(1020) and g[1].mean() == pytest.approx(980)
    assert (named("noise30").apply(np.zeros((1, 32, 32)), 4, np.random.default_rng(1)) >= 0).all()


def test_named_members_parse_and_round_trip() -> None:
    assert [m.name for m in parse_names("area, mtf0.5")] == ["area", "mtf0.5"]
    assert [m.name for m in parse_names("all")] == list(NAMED)
    with pytest.raises(ValueError, match="unknown degradation 'blur9'; choose from area"):
        parse_names("area,blur9")
    for m in NAMED.values():
        assert Degradation.from_dict(m.to_dict()) == m
    fam = DegradationFamily(system_mtf=(0.2, 0.3))
    assert DegradationFamily.from_dict(fam.to_dict()) == fam
    with pytest.raises(ValueError, match="system_mtf"):
        DegradationFamily(system_mtf=(0.3, 0.9))
