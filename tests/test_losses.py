"""Loss functions: exact values on small cases, and the user-supplied perceptual network."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from s2sr import losses as L
from s2sr.errors import ConfigError
from s2sr.sensor import SensorModel


def test_pixel_losses_values() -> None:
    a, b = torch.zeros(1, 1, 2, 2), torch.tensor([[[[1.0, -2.0], [0.0, 3.0]]]])
    assert float(L.pixel_loss(a, b, "l1")) == pytest.approx(1.5)
    assert float(L.pixel_loss(a, a, "charbonnier", eps=1e-3)) == pytest.approx(1e-3)
    assert float(L.pixel_loss(a, b, "charbonnier", eps=1e-3)) == pytest.approx(1.5, abs=1e-3)
    with pytest.raises(ValueError, match="unknown pixel loss 'l3'"):
        L.pixel_loss(a, b, "l3")


def test_ssim_identity_constants_and_noise() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 24, 24, generator=g)
    assert float(L.ssim(x, x, 1.0)) == pytest.approx(1.0, abs=1e-6)
    # constant images a, b: SSIM = (2ab + C1) / (a^2 + b^2 + C1)
    a, b, c1 = 0.2, 0.6, (0.01 * 1.0) ** 2
    s = L.ssim(torch.full((1, 1, 16, 16), a, dtype=torch.float64),
               torch.full((1, 1, 16, 16), b, dtype=torch.float64), 1.0)
    assert float(s) == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), rel=1e-5)
    noisy = x + 0.1 * torch.randn(x.shape, generator=g)
    noisier = x + 0.3 * torch.randn(x.shape, generator=g)
    assert 1 > float(L.ssim(x, noisy, 1.0)) > float(L.ssim(x, noisier, 1.0))
    assert float(L.ssim_loss(x, x)) == pytest.approx(0.0, abs=1e-6)


def test_gradient_loss_ignores_offsets_not_edges() -> None:
    x = torch.randn(1, 2, 8, 8, generator=torch.Generator().manual_seed(1))
    assert float(L.gradient_loss(x + 3.0, x)) == pytest.approx(0.0, abs=1e-6)
    ramp = torch.arange(8.0).view(1, 1, 1, 8).expand(1, 2, 8, 8)
    assert float(L.gradient_loss(x + ramp, x)) == pytest.approx(1.0, abs=1e-5)  # d/dx = 1, d/dy = 0


def test_consistency_loss_zero_for_degraded_pair() -> None:
    s = SensorModel(2, 0.3)
    hr = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    assert float(L.consistency_loss(hr, s.degrade_torch(hr), s)) < 1e-6
    assert float(L.consistency_loss(hr, s.degrade_torch(hr) + 0.5, s)) == pytest.approx(0.5, abs=1e-5)


def test_adversarial_losses() -> None:
    one, zero = torch.ones(4, 1), torch.zeros(4, 1)
    assert float(L.adversarial_losses("lsgan", one, zero, False)) == 0.0
    assert float(L.adversarial_losses("lsgan", one, one, True)) == 0.0
    assert float(L.adversarial_losses("lsgan", one, zero, True)) == 0.5
    confident = L.adversarial_losses("ragan", 5 * one, -5 * one, False)
    fooled = L.adversarial_losses("ragan", -5 * one, 5 * one, False)
    assert float(confident) < 1e-3 < float(fooled)
    # generator loss is the mirror image
    assert float(L.adversarial_losses("ragan", -5 * one, 5 * one, True)) == pytest.approx(float(confident))
    with pytest.raises(ValueError, match="unknown adversarial loss"):
        L.adversarial_losses("wgan", one, one, True)


def test_perceptual_loss_requires_an_existing_file(tmp_path: Path) -> None:
    missing = tmp_path / "vgg.pt2"
    with pytest.raises(ConfigError, match=f"{missing}: perceptual-loss weights file not found"):
        L.PerceptualLoss(missing)
    bad = tmp_path / "bad.pt2"
    bad.write_bytes(b"not a model")
    with pytest.raises(ConfigError, match=f"{bad}: cannot load the perceptual feature network"):
        L.PerceptualLoss(bad)


def test_perceptual_loss_from_exported_network(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(4, 6, 3, padding=1), torch.nn.ReLU()).eval()
    x = torch.randn(2, 4, 16, 16)
    path = tmp_path / "features.pt2"
    torch.export.save(torch.export.export(net, (x,)), path)
    loss = L.PerceptualLoss(path)
    y = x + 0.5
    with torch.no_grad():
        assert float(loss(x, x)) == 0.0
        assert float(loss(x, y)) == pytest.approx(float((net(x) - net(y)).abs().mean()), rel=1e-5)


def test_spectral_loss_measures_angle_not_brightness() -> None:
    mean = torch.tensor([1000.0, 1200.0, 1400.0, 2500.0]).view(1, 4, 1, 1)
    std = torch.tensor([300.0, 400.0, 500.0, 800.0]).view(1, 4, 1, 1)
    g = torch.Generator().manual_seed(0)
    hr = torch.randn(2, 4, 8, 8, generator=g)
    assert float(L.spectral_loss(hr, hr, mean, std)) < 1e-3
    raw = hr * std + mean
    brighter = (raw * 1.3 - mean) / std  # same spectral angle, 30 % brighter
    assert float(L.spectral_loss(brighter, hr, mean, std)) < 1e-3
    swapped = hr[:, [0, 1, 3, 2]]  # red and NIR exchanged: a large angle
    assert float(L.spectral_loss(swapped, hr, mean, std)) > 1.0


def test_hallucination_loss_is_opensr_hallucination() -> None:
    """The training loss equals opensr-test's hallucination score (our checked reimplementation) on the
    same crop, and the truth itself scores the softmin floor exp(-4) / (1 + 2 exp(-4))."""
    import numpy as np

    from s2sr.evaluate.opensr import nd_map, resize, tc_scores

    g = torch.Generator().manual_seed(3)
    lr = 0.1 + 0.3 * torch.rand(2, 4, 12, 12, generator=g)
    hr = torch.nn.functional.interpolate(lr, scale_factor=4, mode="bicubic").clamp_min(0.01)
    hr = hr + 0.02 * torch.rand(hr.shape, generator=g)
    sr = hr + 0.03 * torch.randn(hr.shape, generator=g)
    zero, one = torch.zeros(1, 4, 1, 1), torch.ones(1, 4, 1, 1)
    got = L.hallucination_loss(sr, hr, lr, zero, one, 4)
    want = []
    for i in range(2):
        base = resize(lr[i].numpy(), 4)[:, 8:-8, 8:-8]
        s, h = sr[i].numpy()[:, 8:-8, 8:-8], hr[i].numpy()[:, 8:-8, 8:-8]
        ok = np.ones(h.shape[1:], bool)
        want.append(tc_scores(nd_map(base, h), nd_map(s, h), nd_map(s, base), ok)["hallucination"])
    # the loss pools both patches' kept pixels, each patch with its own threshold: equal counts here
    assert float(got) == pytest.approx(float(np.mean(want)), abs=0.01)
    assert 0.05 < float(got) < 0.9
    floor = float(np.exp(-4) / (1 + 2 * np.exp(-4)))
    assert float(L.hallucination_loss(hr, hr, lr, zero, one, 4)) == pytest.approx(floor, abs=1e-4)
    x = sr.clone().requires_grad_(True)
    L.hallucination_loss(x, hr, lr, zero, one, 4).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and float(x.grad.abs().sum()) > 0
