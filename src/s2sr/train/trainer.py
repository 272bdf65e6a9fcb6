"""One training step (stage 1: pixel losses; stage 2: + adversarial) and its state."""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from torch import nn

from s2sr.archs import build_arch
from s2sr.archs.discriminator import DISCRIMINATORS
from s2sr.data.dataset import DatasetInfo
from s2sr.errors import ConfigError, InputError
from s2sr.losses import adversarial_losses
from s2sr.train.config import TrainConfig
from s2sr.train.data import Batches
from s2sr.train.device import autocast
from s2sr.train.ema import Ema
from s2sr.train.objective import GeneratorLoss
from s2sr.train.schedule import lr_factor


def resolve_arch_kwargs(cfg: TrainConfig, info: DatasetInfo) -> dict[str, Any]:
    """Config kwargs plus what the data decides: ``in_ch``, ``scale``, ``mtf_nyquist``."""
    kw = dict(cfg.model.kwargs)
    for key, value in (("in_ch", len(info.bands)), ("scale", info.scale)):
        if key in kw and kw[key] != value:
            raise ConfigError(f"model.kwargs.{key}={kw[key]} disagrees with the data ({value}); "
                              f"remove it from the config (it is taken from the data)")
        kw[key] = value
    kw.setdefault("mtf_nyquist", info.sensor.mtf_nyquist)
    return kw


class Trainer:
    def __init__(self, cfg: TrainConfig, info: DatasetInfo, batches: Batches,
                 device: torch.device, precision: str) -> None:
        self.cfg, self.info, self.batches = cfg, info, batches
        self.device, self.precision = device, precision
        torch.manual_seed(cfg.run.seed)
        self.arch_kwargs = resolve_arch_kwargs(cfg, info)
        try:
            self.G: nn.Module = build_arch(cfg.model.arch, **self.arch_kwargs).to(device)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"model.kwargs: {e}; fix the [model.kwargs] section") from None
        o = cfg.optim
        self.opt = torch.optim.AdamW(self.G.parameters(), lr=o.lr, betas=o.betas, weight_decay=o.weight_decay)
        self.ema = Ema(self.G, cfg.run.ema_decay) if cfg.run.ema_decay else None
        self.D: nn.Module | None = None
        self.opt_d: torch.optim.Optimizer | None = None
        if cfg.gan.enabled:
            torch.manual_seed(cfg.run.seed + 1)
            self.D = DISCRIMINATORS[cfg.gan.discriminator](in_ch=len(info.bands), **cfg.gan.d_kwargs).to(device)
            self.opt_d = torch.optim.AdamW(self.D.parameters(), lr=cfg.gan.d_lr, betas=o.betas)
        self.loss = GeneratorLoss(cfg.loss, info.sensor, batches.mean.ravel(), batches.std.ravel())
        self.step = 0
        self.best_psnr = -math.inf
        self.best_metrics: dict[str, Any] = {}
        self.seconds = 0.0  # training wall time, over resumes
        self._clock = (time.perf_counter(), 0.0)

    def start_clock(self) -> None:
        """Count wall time from now on top of the seconds so far (a resumed run continues them)."""
        self._clock = (time.perf_counter(), self.seconds)

    def tick(self) -> float:
        """Update and return :attr:`seconds`."""
        t0, base = self._clock
        self.seconds = base + time.perf_counter() - t0
        return self.seconds

    def improved(self, metrics: dict[str, Any]) -> bool:
        """Record validation ``metrics``; True when they are the best so far (by val PSNR)."""
        psnr = metrics["val_psnr"]
        if (math.isfinite(psnr) and psnr > self.best_psnr) or not self.best_metrics:
            self.best_psnr, self.best_metrics = psnr, dict(metrics)
            return True
        return False

    def eval_model(self) -> nn.Module:
        return self.ema.module if self.ema is not None else self.G

    def gan_stage(self) -> bool:
        return self.D is not None and self.step >= self.cfg.gan.start_step

    def _set_lr(self) -> float:
        f = lr_factor(self.cfg.optim, self.step, self.cfg.run.max_steps)
        for g in self.opt.param_groups:
            g["lr"] = self.cfg.optim.lr * f
        if self.opt_d is not None:
            for g in self.opt_d.param_groups:
                g["lr"] = self.cfg.gan.d_lr * f
        return self.cfg.optim.lr * f

    def train_step(self) -> dict[str, float]:
        self.G.train()
        lr_now = self._set_lr()
        lr_b, hr_b, w_b = (t.to(self.device, non_blocking=True) for t in self.batches.get_weighted(self.step))
        gan = self.gan_stage()
        with autocast(self.device, self.precision):
            sr = self.G(lr_b)
        loss, parts = self.loss(sr, hr_b, lr_b, w_b)
        if gan:  # the discriminator sees no band that is not a real target (the pseudo-NIR of RGB images)
            w = w_b.view(*w_b.shape, 1, 1).to(sr.dtype)
            sr = sr * w + hr_b.to(sr.dtype) * (1 - w)
            loss = loss + self._g_adversarial(sr, hr_b, parts)
        if not torch.isfinite(loss):
            if not (torch.isfinite(lr_b).all() and torch.isfinite(hr_b).all()):
                raise InputError(f"{self.batches.split.dir}: the training patches of step {self.step} hold NaN or "
                                 "infinite values; re-run `s2sr prepare` on the source images")
            raise ConfigError(f"training diverged at step {self.step} (loss {float(loss)}); "
                              "lower optim.lr or enable optim.grad_clip")
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.optim.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.G.parameters(), self.cfg.optim.grad_clip)
        self.opt.step()
        if gan:
            parts["d_loss"] = self._d_step(sr.detach(), hr_b)
        if self.ema is not None:
            self.ema.update(self.G, self.step)
        self.step += 1
        return {"loss": float(loss.detach()), "lr": lr_now, **parts}

    def _g_adversarial(self, sr: torch.Tensor, hr: torch.Tensor, parts: dict[str, float]) -> torch.Tensor:
        assert self.D is not None
        self.D.requires_grad_(False)
        with autocast(self.device, self.precision):
            real, fake = self.D(hr), self.D(sr)
        adv = self.cfg.gan.weight * adversarial_losses(self.cfg.gan.adversarial, real, fake, True)
        parts["adversarial"] = float(adv.detach())
        return adv

    def _d_step(self, sr: torch.Tensor, hr: torch.Tensor) -> float:
        assert self.D is not None and self.opt_d is not None
        self.D.requires_grad_(True)
        with autocast(self.device, self.precision):
            real, fake = self.D(hr), self.D(sr)
        d_loss = adversarial_losses(self.cfg.gan.adversarial, real, fake, False)
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        return float(d_loss.detach())

    # ---- state for last.pt --------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        s: dict[str, Any] = {
            "step": self.step, "seconds": self.seconds, "best_psnr": self.best_psnr,
            "best_metrics": self.best_metrics, "arch_kwargs": self.arch_kwargs,
            "G": self.G.state_dict(), "opt": self.opt.state_dict(),
            "rng_cpu": torch.get_rng_state(),
        }
        if self.ema is not None:
            s["ema"] = self.ema.module.state_dict()
        if self.D is not None and self.opt_d is not None:
            s["D"], s["opt_d"] = self.D.state_dict(), self.opt_d.state_dict()
        if torch.cuda.is_available():
            s["rng_cuda"] = torch.cuda.get_rng_state_all()
        return s

    def init_from(self, bundle: Any) -> None:
        """Start from ``bundle``'s generator weights (``run.init``: fine-tuning; same arch and kwargs,
        checked by ``train`` before the run folder is made)."""
        self.G.load_state_dict(bundle.module.state_dict())
        if self.ema is not None:
            self.ema.module.load_state_dict(bundle.module.state_dict())

    def load_state(self, s: dict[str, Any]) -> None:
        self.G.load_state_dict(s["G"])
        self.opt.load_state_dict(s["opt"])
        if self.ema is not None and "ema" in s:
            self.ema.module.load_state_dict(s["ema"])
        if self.D is not None and self.opt_d is not None and "D" in s:
            self.D.load_state_dict(s["D"])
            self.opt_d.load_state_dict(s["opt_d"])
        torch.set_rng_state(s["rng_cpu"])
        if "rng_cuda" in s and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(s["rng_cuda"])
        self.step, self.seconds = int(s["step"]), float(s["seconds"])
        self.best_psnr, self.best_metrics = float(s["best_psnr"]), dict(s["best_metrics"])
