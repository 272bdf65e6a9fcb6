"""The error model, its calibration and its place in the model bundle."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from s2sr.bundle import bundle_from_dict, load_model
from s2sr.errors import ConfigError, ModelError
from s2sr.infer.model import bundle_fingerprint
from s2sr.uncertainty.calibration import LEVELS, calibrate, conformal_quantile
from s2sr.uncertainty.head import build_head
from s2sr.uncertainty.section import head_from_dict, head_of, require_head

from .conftest import attach_head


def test_scale_follows_a_per_band_gain_and_ignores_an_offset() -> None:
    torch.manual_seed(0)
    head = build_head("errnet", in_ch=4, scale=4, width=8, depth=3).eval()
    x = torch.randn(1, 4, 24, 20)
    y = torch.nn.functional.interpolate(x, scale_factor=4, mode="bicubic") + 0.3 * torch.randn(1, 4, 96, 80)
    a = torch.tensor([2.0, 0.5, 3.0, 1.5]).view(1, 4, 1, 1)
    b = torch.tensor([10.0, -4.0, 0.0, 7.0]).view(1, 4, 1, 1)
    with torch.no_grad():
        s1 = head(x, y)
        s2 = head(a * x + b, a * y + b)
    assert s1.shape == y.shape and bool((s1 > 0).all())
    torch.testing.assert_close(s2, a * s1, rtol=2e-3, atol=1e-4)


def test_conformal_quantile_is_the_finite_sample_rank() -> None:
    scores = np.arange(1, 101, dtype=np.float64)[::-1].copy()  # 100 .. 1
    assert conformal_quantile(scores, 0.9) == 91.0  # ceil(101 * 0.9) = 91st smallest
    assert conformal_quantile(scores, 0.5) == 51.0
    assert conformal_quantile(scores[:5], 0.9) == np.inf  # too few scores for 90 %: no finite bound
    assert conformal_quantile(np.array([]), 0.5) == np.inf


def test_calibration_covers_fresh_exchangeable_scores() -> None:
    """Seeded synthetic case: scores from one distribution; the quantiles from 20 000 of them cover
    fresh draws at the nominal level (within 1 point)."""
    rng = np.random.default_rng(42)
    cal = calibrate([rng.laplace(size=20_000).__abs__() * (b + 1) for b in range(4)], ["a"])
    fresh = [np.abs(rng.laplace(size=50_000)) * (b + 1) for b in range(4)]
    for level in (0.8, 0.9, 0.95):
        q = cal.quantile(level)
        for b in range(4):
            assert abs(np.mean(fresh[b] <= q[b]) - level) < 0.01
    assert cal.levels == LEVELS and cal.pixels == (20_000,) * 4
    with pytest.raises(ValueError, match="not calibrated"):
        cal.quantile(0.42)


def test_bundle_round_trip_with_and_without_head(tmp_path, bundle_factory) -> None:
    plain = bundle_factory("equisr", width=8, depth=2)
    fp = bundle_fingerprint(plain.to_dict())
    assert "uncertainty" not in plain.to_dict() and head_of(plain) is None
    path = attach_head(plain).save(tmp_path / "m.pt")
    loaded = load_model(path)
    head = head_of(loaded)
    assert head is not None and head.calibrated_on == ["cal-scene"] and head.trained_on == ["train-scene"]
    # the SR model is the same model: its fingerprint (resume journals, Dask cache) does not change
    assert bundle_fingerprint(loaded.to_dict()) == fp
    x = np.full((1, 4, 12, 12), 1500.0, np.float32) + np.random.default_rng(0).normal(0, 50, (1, 4, 12, 12))
    sr = loaded.predict(x[0].astype(np.float32))[None]
    hw90 = head.half_width(x, sr, 0.9, loaded.mean, loaded.std)
    hw80 = head.half_width(x, sr, 0.8, loaded.mean, loaded.std)
    q = head.calibration
    np.testing.assert_allclose(hw80 * q.quantile(0.9)[None, :, None, None],
                               hw90 * q.quantile(0.8)[None, :, None, None], rtol=1e-5)


def test_damaged_or_missing_head_is_one_line(tmp_path, bundle_factory) -> None:
    d = attach_head(bundle_factory("equisr", width=8, depth=2)).to_dict()
    d["uncertainty"]["state_dict"].pop(next(iter(d["uncertainty"]["state_dict"])))
    b = bundle_from_dict(d, "x.pt")  # the SR model still loads
    with pytest.raises(ModelError, match=r"^x\.pt: damaged uncertainty section \(.*\); re-run `s2sr calibrate`"):
        head_of(b)
    with pytest.raises(ModelError, match="damaged uncertainty section"):
        head_from_dict({"format": "other"})
    with pytest.raises(ConfigError, match=r"--uncertainty: model .* has no uncertainty head; attach one with"):
        require_head(bundle_factory("bicubic"), 0.9)
    good = attach_head(bundle_factory("bicubic"))
    with pytest.raises(ConfigError, match=r"--uncertainty-level 42: level 0.42 is not calibrated"):
        require_head(good, 0.42)
