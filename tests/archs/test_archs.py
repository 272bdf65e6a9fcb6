"""Generators: shapes for every arch x scale, receptive field, residual-over-bicubic,
the hard consistency layer, discriminators."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from s2sr.archs import ARCHS, build_arch
from s2sr.archs.common import prime_factors
from s2sr.archs.consistency import ConsistencyLayer, degrade_adjoint
from s2sr.archs.discriminator import DISCRIMINATORS
from s2sr.errors import ConfigError, ModelError
from s2sr.sensor import SensorModel

TINY = {
    "light": {"width": 8, "depth": 2},
    "srresnet": {"width": 8, "blocks": 1},
    "rrdb": {"width": 8, "blocks": 1, "growth": 4},
}


def test_registry_lists_all_generators() -> None:
    assert set(ARCHS) == {"bicubic", "light", "srresnet", "rrdb", "equisr", "equifine"}
    with pytest.raises(ModelError, match="unknown architecture 'esrgan'"):
        build_arch("esrgan")


@pytest.mark.parametrize("scale", [2, 3, 4, 6, 8])
@pytest.mark.parametrize("arch", sorted(TINY))
def test_output_shape_every_arch_and_scale(arch: str, scale: int) -> None:
    torch.manual_seed(0)
    m = build_arch(arch, in_ch=4, scale=scale, **TINY[arch])
    y = m(torch.randn(2, 4, 5, 7))
    assert y.shape == (2, 4, 5 * scale, 7 * scale)
    assert isinstance(m.receptive_field, int) and m.receptive_field >= 3


@pytest.mark.parametrize("scale", [5, 7])
@pytest.mark.parametrize("bands", [1, 3, 6])
def test_prime_scales_and_any_band_count(scale: int, bands: int) -> None:
    m = build_arch("srresnet", in_ch=bands, scale=scale, residual=False, **TINY["srresnet"])
    assert m(torch.randn(1, bands, 4, 3)).shape == (1, bands, 4 * scale, 3 * scale)
    assert m.up.factors == [scale]


def test_prime_factors() -> None:
    assert [prime_factors(n) for n in (2, 3, 4, 6, 8)] == [[2], [3], [2, 2], [2, 3], [2, 2, 2]]


@pytest.mark.parametrize("scale", [1, 9, 2.5])
def test_bad_scale_is_rejected(scale: float) -> None:
    with pytest.raises(ConfigError, match="is not an integer in 2..8"):
        build_arch("light", scale=scale)


@pytest.mark.parametrize("arch", sorted(TINY))
def test_residual_with_zero_tail_is_exactly_bicubic(arch: str) -> None:
    m = build_arch(arch, in_ch=4, scale=3, residual=True, **TINY[arch])
    last = [mod for mod in m.modules() if isinstance(mod, torch.nn.Conv2d)][-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
    x = torch.randn(1, 4, 6, 6)
    expect = F.interpolate(x, scale_factor=3, mode="bicubic", align_corners=False)
    torch.testing.assert_close(m(x), expect, rtol=0, atol=1e-5)  # float32 rounding of the x3 weights: 2e-6


@pytest.mark.parametrize("arch", sorted(TINY))
def test_receptive_field_bounds_the_influence(arch: str) -> None:
    """Perturbing one LR pixel changes no output pixel farther than receptive_field LR px."""
    torch.manual_seed(1)
    m = build_arch(arch, in_ch=2, scale=2, **TINY[arch]).eval()
    n, c = 41, 20
    x = torch.randn(1, 2, n, n)
    x2 = x.clone()
    x2[0, :, c, c] += 5.0
    with torch.no_grad():
        diff = (m(x2) - m(x)).abs().amax(1)[0]
    rows, cols = torch.nonzero(diff > 1e-6, as_tuple=True)
    assert rows.numel() > 0
    dist_lr = torch.maximum((rows // 2 - c).abs(), (cols // 2 - c).abs())
    assert int(dist_lr.max()) <= m.receptive_field


# ---- hard consistency layer ---------------------------------------------------------
@pytest.mark.parametrize("scale,shape,mtf", [(2, (9, 13), 0.3), (3, (8, 8), 0.3), (4, (12, 10), 0.2)])
def test_consistency_layer_makes_degradation_equal_lr(scale: int, shape: tuple[int, int], mtf: float) -> None:
    torch.manual_seed(2)
    m = build_arch("light", in_ch=4, scale=scale, width=8, depth=2, consistency=True, mtf_nyquist=mtf)
    lr = torch.randn(2, 4, *shape) * 3
    with torch.no_grad():
        sr = m(lr)
    err = (SensorModel(scale, mtf).degrade_torch(sr.double()) - lr.double()).abs().max()
    assert float(err) < 1e-5  # requirement is 1e-4; margin x10
    without = build_arch("light", in_ch=4, scale=scale, width=8, depth=2, mtf_nyquist=mtf)
    without.load_state_dict(m.state_dict())
    with torch.no_grad():
        sr0 = without(lr)
    err0 = (SensorModel(scale, mtf).degrade_torch(sr0.double()) - lr.double()).abs().max()
    assert float(err0) > 0.1  # the layer is doing the work


def test_consistency_under_bf16_autocast() -> None:
    m = build_arch("light", in_ch=4, scale=2, width=8, depth=2, consistency=True)
    lr = torch.randn(1, 4, 8, 8)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        sr = m(lr)
    assert sr.dtype == torch.float32
    assert float((SensorModel(2).degrade_torch(sr.double()) - lr.double()).abs().max()) < 1e-4


def test_adjoint_matches_degradation() -> None:
    s = SensorModel(3, 0.3)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 15, 21, dtype=torch.float64, generator=g)
    v = torch.randn(2, 3, 5, 7, dtype=torch.float64, generator=g)
    lhs = (s.degrade_torch(x) * v).sum()
    rhs = (x * degrade_adjoint(s, v, x.shape)).sum()
    assert abs(float(lhs - rhs)) < 1e-10 * float(lhs.abs() + 1)


def test_consistency_gradient_is_the_orthogonal_projection() -> None:
    layer = ConsistencyLayer(2, 0.3)
    g = torch.Generator().manual_seed(3)
    sr = torch.randn(1, 2, 12, 12, generator=g, requires_grad=True)
    lr = torch.randn(1, 2, 6, 6, generator=g)
    up = torch.randn(1, 2, 12, 12, generator=g, dtype=torch.float64)
    (layer(sr, lr).double() * up).sum().backward()
    grad = sr.grad.double()
    s = layer.sensor
    assert float(s.degrade_torch(grad).abs().max()) < 1e-6  # P g lies in the null space of D
    assert abs(float((grad * (up - grad)).sum())) < 1e-5 * float((up * up).sum())  # orthogonal


# ---- discriminators ----------------------------------------------------------------
@pytest.mark.parametrize("size", [32, 48])
def test_discriminators_take_any_size(size: int) -> None:
    x = torch.randn(3, 4, size, size)
    d = DISCRIMINATORS["srgan"](in_ch=4, width=8, stages=3)
    assert d(x).shape == (3, 1)
    p = DISCRIMINATORS["patch"](in_ch=4, width=8, stages=3)
    assert p(x).shape == (3, 1, size // 8, size // 8)


def test_consistency_under_inference_mode() -> None:
    m = build_arch("light", in_ch=3, scale=3, width=8, depth=2, consistency=True).eval()
    lr = torch.randn(1, 3, 7, 9)
    with torch.inference_mode():
        sr = m(lr)
    assert float((SensorModel(3).degrade_torch(sr.double()) - lr.double()).abs().max()) < 1e-5


def test_consistency_influence_is_negligible_beyond_receptive_field() -> None:
    """The projection is global in principle; beyond receptive_field its effect is < 1e-4."""
    torch.manual_seed(4)
    m = build_arch("light", in_ch=1, scale=2, width=4, depth=1, consistency=True).eval()
    n, c = 49, 24
    x = torch.randn(1, 1, n, n)
    x2 = x.clone()
    x2[0, 0, c, c] += 5.0
    with torch.no_grad():
        diff = (m(x2) - m(x)).abs()[0, 0]
    yy, xx = torch.meshgrid(torch.arange(2 * n), torch.arange(2 * n), indexing="ij")
    far = torch.maximum((yy // 2 - c).abs(), (xx // 2 - c).abs()) > m.receptive_field
    assert float(diff[far].max()) < 1e-4 * float(diff.max())
