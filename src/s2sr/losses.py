"""Training losses. All take normalised (N, C, H, W) tensors and return a scalar.

- ``pixel_loss``: L1 or Charbonnier (sqrt(d^2 + eps^2), a smooth L1).
- ``ssim_loss``: 1 - SSIM (11x11 Gaussian window, sigma 1.5, per band).
- ``gradient_loss``: L1 between horizontal and vertical finite differences.
- ``spectral_loss``: 1 - cos(spectral angle) between SR and HR pixels, in input units.
- ``consistency_loss``: L1 between ``sensor.degrade_torch(SR)`` and the LR input.
- ``hallucination_loss``: the mean hallucination weight of opensr-test's correctness score
  (see :mod:`s2sr.evaluate.opensr`), made differentiable: detail that moves a pixel away
  from both the reference and the plain upsampled input costs.
- ``adversarial_losses``: relativistic average GAN (RaGAN, as in ESRGAN) with
  binary cross-entropy on logits, or least-squares GAN (LSGAN, targets 1/0).
- ``PerceptualLoss``: L1 between features of a network the user supplies as a
  file (``torch.export`` ``.pt2`` or TorchScript); nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from s2sr.errors import ConfigError
from s2sr.sensor import SensorModel

ADVERSARIAL = ("ragan", "lsgan")


def pixel_loss(sr: torch.Tensor, hr: torch.Tensor, kind: str = "charbonnier",
               eps: float = 1e-3) -> torch.Tensor:
    d = sr - hr
    if kind == "l1":
        return d.abs().mean()
    if kind == "charbonnier":
        return torch.sqrt(d * d + eps * eps).mean()
    raise ValueError(f"unknown pixel loss {kind!r}; use 'l1' or 'charbonnier'")


def _gauss_window(size: int, sigma: float, channels: int, like: torch.Tensor) -> torch.Tensor:
    x = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    g = torch.exp(-0.5 * (x / sigma) ** 2)
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float, size: int = 11,
         sigma: float = 1.5, reduce: bool = True) -> torch.Tensor:
    """Mean SSIM (Wang et al. 2004) with a Gaussian window, valid region only.

    ``reduce=False`` gives one value per (image, band).
    """
    c = x.shape[1]
    size = min(size, x.shape[-1], x.shape[-2])
    w = _gauss_window(size, sigma, c, x)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2

    def filt(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, w, groups=c)

    mx, my = filt(x), filt(y)
    vx, vy, cxy = filt(x * x) - mx * mx, filt(y * y) - my * my, filt(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s.mean() if reduce else s.mean((2, 3))


def ssim_loss(sr: torch.Tensor, hr: torch.Tensor, data_range: float = 4.0) -> torch.Tensor:
    """1 - SSIM on normalised data (``data_range`` in std units, default 4 sigma)."""
    return 1.0 - ssim(sr.float(), hr.float(), data_range)


def gradient_loss(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    def grads(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return t[..., :, 1:] - t[..., :, :-1], t[..., 1:, :] - t[..., :-1, :]

    (sx, sy), (hx, hy) = grads(sr), grads(hr)
    return (sx - hx).abs().mean() + (sy - hy).abs().mean()


def spectral_loss(sr: torch.Tensor, hr: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Mean ``1 - cos`` of the spectral angle between SR and HR pixel vectors, in input units
    (normalised tensors are mapped back with the per-band ``mean``/``std``, shape (1, C, 1, 1)).

    ``1 - cos`` is smooth where the angle is 0 (the angle itself has an infinite gradient there)
    and equals angle^2 / 2 for small angles; x1000 keeps it on the scale of the pixel loss.
    """
    a, b = sr.float() * std + mean, hr.float() * std + mean
    cos = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-6)
    return 1000.0 * (1.0 - cos).mean()


def grid_loss(sr: torch.Tensor, hr: torch.Tensor, scale: int) -> torch.Tensor:
    """Variance over the ``scale``^2 sub-pixel phases of the patch-mean error: a pattern locked to
    the LR pixel grid (the same offset at every pixel of a phase) shows here and nowhere else."""
    d = F.pixel_unshuffle(sr - hr, scale)
    n, _, h, w = d.shape
    phase_means = d.reshape(n, -1, scale * scale, h * w).mean(-1)
    return phase_means.var(dim=-1, unbiased=False).mean()


def consistency_loss(sr: torch.Tensor, lr: torch.Tensor, sensor: SensorModel) -> torch.Tensor:
    return (sensor.degrade_torch(sr.float()) - lr.float()).abs().mean()


def _nd(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-pixel band mean of ``|x - y| / |x + y|`` (opensr-test's ``nd`` distance)."""
    return ((x - y).abs() / (x + y).abs().clamp_min(1e-6)).mean(1)


def _correctness_maps(sr: torch.Tensor, hr: torch.Tensor, lr: torch.Tensor, mean: torch.Tensor,
                      std: torch.Tensor, scale: int, quantile: float
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``d_ref``, ``d_im``, ``d_om`` and the kept-pixel mask of opensr-test's correctness score."""
    def units(t: torch.Tensor) -> torch.Tensor:
        return t.float() * std + mean

    b = 2 * scale
    x, y = units(sr)[..., b:-b, b:-b], units(hr)[..., b:-b, b:-b]
    with torch.no_grad():
        base = F.interpolate(units(lr), scale_factor=scale, mode="bilinear", align_corners=False)[..., b:-b, b:-b]
        d_ref = _nd(base, y)
        thr = torch.quantile(d_ref.flatten(1), quantile, dim=1).view(-1, 1, 1)
    d_im, d_om = _nd(x, y), _nd(x, base)
    keep = ((d_ref > thr) | (d_im.detach() > thr) | (d_om.detach() > thr)).float()
    return d_ref, d_im, d_om, keep


def hallucination_loss(sr: torch.Tensor, hr: torch.Tensor, lr: torch.Tensor, mean: torch.Tensor,
                       std: torch.Tensor, scale: int, kind: str = "softmin", quantile: float = 0.75,
                       k: float = 0.05, temperature: float = 0.25, floor: float = 1e-3) -> torch.Tensor:
    """opensr-test's hallucination (1.3.3 defaults) as a loss, in input units.

    ``d_ref = nd(up(LR), HR)``, ``d_im = nd(SR, HR)``, ``d_om = nd(SR, up(LR))`` with ``up``
    bilinear; pixels where one of them exceeds the patch's ``quantile`` of ``d_ref`` count, with
    ``a = d_im / d_ref``, ``b = d_om / d_ref``. A ``2 * scale`` border is left out.

    - ``kind="softmin"``: the score itself, the mean hallucination weight of the softmin
      (``temperature``) over ``(a + b(1 - e^{-k(a+b-1)}), b + a(1 - e^{-k(a+b-1)}), e^{-k a b})``.
      Its gradient vanishes on the pixels that are most clearly hallucinated (weight ~1).
    - ``kind="margin"``: mean of ``relu(log((min(d_im, d_om) + f) / (d_ref + f)))``, ``f`` = ``floor``:
      a pixel is hallucinated when it is both farther from the truth and farther from the plain
      upsampled input than the two are from each other (``min(a, b) > 1``); the gradient moves it
      towards whichever is nearer, and does not vanish.
    """
    d_ref, d_im, d_om, keep = _correctness_maps(sr, hr, lr, mean, std, scale, quantile)
    if kind == "margin":
        v = F.relu(torch.log((torch.minimum(d_im, d_om) + floor) / (d_ref + floor)))
    elif kind == "softmin":
        ref = d_ref.clamp_min(1e-6)
        a, c = (d_im / ref).clamp(max=50.0), (d_om / ref).clamp(max=50.0)
        h = 1 - torch.exp(-k * (a + c - 1))
        scores = torch.stack([a + c * h, c + a * h, torch.exp(-k * a * c)])
        v = torch.softmax(-scores / temperature, dim=0)[2]
    else:
        raise ValueError(f"unknown hallucination loss {kind!r}; use 'softmin' or 'margin'")
    return (v * keep).sum() / keep.sum().clamp_min(1.0)


def adversarial_losses(kind: str, real: torch.Tensor, fake: torch.Tensor,
                       for_generator: bool) -> torch.Tensor:
    """Discriminator loss (``for_generator=False``) or generator loss, from logits.

    ``ragan``: D_Ra(a, b) = sigmoid(C(a) - mean C(b)); D wants real > average fake,
    G wants the reverse (both terms get gradients from G, as in ESRGAN).
    ``lsgan``: D wants C(real) = 1, C(fake) = 0; G wants C(fake) = 1.
    """
    bce = F.binary_cross_entropy_with_logits
    real, fake = real.float(), fake.float()
    if kind == "ragan":
        dr, df = real - fake.mean(), fake - real.mean()
        if for_generator:
            return 0.5 * (bce(dr, torch.zeros_like(dr)) + bce(df, torch.ones_like(df)))
        return 0.5 * (bce(dr, torch.ones_like(dr)) + bce(df, torch.zeros_like(df)))
    if kind == "lsgan":
        if for_generator:
            return 0.5 * ((fake - 1) ** 2).mean()
        return 0.5 * (((real - 1) ** 2).mean() + (fake**2).mean())
    raise ValueError(f"unknown adversarial loss {kind!r}; use one of {ADVERSARIAL}")


class PerceptualLoss(nn.Module):
    """L1 between feature maps of a user-supplied, frozen feature network.

    The file is either a ``torch.export`` program (``.pt2``, loaded with
    ``torch.export.load``) or a TorchScript module (``torch.jit.load``). It must take
    a normalised (N, C, H, W) tensor with the model's bands and return a tensor
    (or a list/tuple of tensors) of features.
    """

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"{p}: perceptual-loss weights file not found; "
                              "set loss.perceptual_weights to an existing .pt2/TorchScript file or 0 weight")
        try:
            if p.suffix == ".pt2":
                net = torch.export.load(p).module()
            else:
                net = torch.jit.load(str(p), map_location="cpu")
        except Exception as e:  # many torch loader error types
            first = (str(e).splitlines() or [type(e).__name__])[0][:120]
            raise ConfigError(f"{p}: cannot load the perceptual feature network ({first}); "
                              "save it with torch.export.save (.pt2) or torch.jit.save") from None
        for q in getattr(net, "parameters", list)():
            q.requires_grad_(False)
        self.net = net

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        fs, fh = self.net(sr.float()), self.net(hr.float())
        if isinstance(fs, torch.Tensor):
            fs, fh = [fs], [fh]
        return sum(((a - b).abs().mean() for a, b in zip(fs, fh, strict=True)), torch.zeros(()))
