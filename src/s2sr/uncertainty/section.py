"""The optional ``uncertainty`` section of a model bundle, and the head it rebuilds.

In the bundle dict (see :mod:`s2sr.bundle`; bundles without it load as before)::

    uncertainty: {
        format: "s2sr-uncertainty", format_version: 1,
        arch, kwargs, state_dict        -> s2sr.uncertainty.head.build_head(arch, **kwargs)
        calibration: Calibration.to_dict()     conformal quantiles per level and band
        trained_on, calibrated_on: [scene names]   where the error model was fitted / calibrated
        fit: {...}                      settings and figures of the fit (free-form)
    }

:meth:`UncertaintyHead.half_width` turns (LR, SR) in input units into the half-width of the
``level`` interval in the same units: ``q_level[band] * scale * std[band]`` (the scale is
predicted in the bundle's normalised units).
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from s2sr.errors import ConfigError, ModelError
from s2sr.uncertainty.calibration import Calibration
from s2sr.uncertainty.head import build_head

if TYPE_CHECKING:  # pragma: no cover
    from s2sr.bundle import ModelBundle

FORMAT = "s2sr-uncertainty"
DEFAULT_LEVEL = 0.9


_MOVE_LOCK = threading.Lock()  # a head moved to the GPU by the first of several feeder threads


@dataclass
class UncertaintyHead:
    """An error model plus its calibration."""

    arch: str
    kwargs: dict[str, Any]
    module: nn.Module
    calibration: Calibration
    trained_on: list[str] = field(default_factory=list)
    calibrated_on: list[str] = field(default_factory=list)
    fit: dict[str, Any] = field(default_factory=dict)

    @property
    def receptive_field(self) -> int:
        return int(getattr(self.module, "receptive_field", 8))

    @torch.inference_mode()
    def scale(self, lr_n: torch.Tensor, sr_n: torch.Tensor) -> torch.Tensor:
        """Predicted error scale (normalised units) from normalised LR and SR tensors."""
        out: torch.Tensor = self.module(lr_n, sr_n)
        return out

    @torch.inference_mode()
    def half_width(self, lr: np.ndarray, sr: np.ndarray, level: float, mean: np.ndarray,
                   std: np.ndarray, device: str | torch.device = "cpu") -> np.ndarray:
        """(N, C, h, w) LR and (N, C, H, W) SR in input units -> (N, C, H, W) float32 half-widths,
        computed on ``device`` (the SR model's: on a GPU run the head runs there too)."""
        dev = torch.device(device)
        with _MOVE_LOCK:
            if any(p.device != dev for p in self.module.parameters()):
                self.module.to(dev)
        m = torch.as_tensor(np.asarray(mean, np.float32), device=dev).view(1, -1, 1, 1)
        s = torch.as_tensor(np.asarray(std, np.float32), device=dev).view(1, -1, 1, 1)
        k = torch.as_tensor(self.calibration.quantile(level), dtype=torch.float32, device=dev).view(1, -1, 1, 1) * s
        x = (torch.from_numpy(np.asarray(lr, np.float32)).to(dev) - m) / s
        y = (torch.from_numpy(np.asarray(sr, np.float32)).to(dev) - m) / s
        out: np.ndarray = self.scale(x, y).mul_(k).cpu().numpy()
        return out

    def levels(self) -> tuple[float, ...]:
        return self.calibration.levels

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "format_version": 1, "arch": self.arch, "kwargs": dict(self.kwargs),
            "state_dict": {k: v.detach().cpu() for k, v in self.module.state_dict().items()},
            "calibration": self.calibration.to_dict(), "trained_on": list(self.trained_on),
            "calibrated_on": list(self.calibrated_on), "fit": dict(self.fit),
        }

    def fingerprint(self) -> str:
        """sha256 of the weights and calibration (names an uncertainty output's resume journal)."""
        h = hashlib.sha256()
        d = self.to_dict()
        h.update(json.dumps({k: v for k, v in d.items() if k not in ("state_dict", "fit")}, sort_keys=True,
                            default=str).encode())
        for k in sorted(d["state_dict"]):
            h.update(k.encode())
            h.update(d["state_dict"][k].contiguous().numpy().tobytes())
        return h.hexdigest()


def head_from_dict(d: dict[str, Any], path: str = "<memory>") -> UncertaintyHead:
    """Rebuild a head from a bundle's ``uncertainty`` section (one-line ModelError when damaged)."""
    try:
        if d.get("format") != FORMAT:
            raise ValueError(f"format {d.get('format')!r} is not {FORMAT!r}")
        module = build_head(d["arch"], **d["kwargs"])
        module.load_state_dict(d["state_dict"])
        cal = Calibration.from_dict(d["calibration"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        first = (str(e).splitlines() or [type(e).__name__])[0][:160]
        raise ModelError(f"{path}: damaged uncertainty section ({first}); re-run `s2sr calibrate` on the model") from None
    module.eval()
    return UncertaintyHead(d["arch"], dict(d["kwargs"]), module, cal, list(d.get("trained_on") or []),
                           list(d.get("calibrated_on") or []), dict(d.get("fit") or {}))


def head_of(bundle: ModelBundle) -> UncertaintyHead | None:
    """The bundle's uncertainty head, or None when it has none."""
    if not bundle.uncertainty:
        return None
    return head_from_dict(bundle.uncertainty, bundle.path or bundle.arch)


def require_head(bundle: ModelBundle, level: float, flag: str = "--uncertainty") -> UncertaintyHead:
    """The head of ``bundle`` with ``level`` calibrated, else a one-line ConfigError with the fix
    (naming ``flag``, the option that needs the head)."""
    head = head_of(bundle)
    name = bundle.path or bundle.arch
    if head is None:
        raise ConfigError(f"{flag}: model {name} has no uncertainty head; attach one with "
                          "`s2sr calibrate MODEL --data DATASET --out MODEL_U.pt` (docs/uncertainty.md)")
    try:
        head.calibration.quantile(level)
    except ValueError as e:
        raise ConfigError(f"--uncertainty-level {100 * level:g}: {e}") from None
    return head
