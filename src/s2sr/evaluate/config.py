"""Typed configuration of ``s2sr evaluate``, validated at load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from s2sr.errors import ConfigError, describe_validation_error


class EvalConfig(BaseModel):
    """What to evaluate and how.

    Pair mode: ``lr`` + ``hr`` (HR is brought onto the LR's fine grid). Wald mode:
    ``wald`` (a real image degraded by the model's sensor model and used as reference).
    ``bands``/``hr_bands`` are 1-based band numbers of the inputs in the model's band
    order (default: all bands). ``tile`` is the scoring window in LR (input) pixels, like
    ``apply``'s ``--tile``; it covers ``tile * scale`` fine pixels.
    ``max_pixels`` caps the scored pixels by drawing whole tiles at random (``seed``).
    ``data_range`` is the PSNR/SSIM peak in input units (default: estimated per band).
    ``change_tol`` is a fraction of the data range; ``edge_quantile`` is the quantile of the
    scene's reference gradients above which a pixel counts as an edge (density strata).
    ``opensr`` adds the opensr-test 1.3.3 scores (whole scene, or a centred window of at most
    ``opensr_max_pixels`` fine pixels) on values divided by ``reflectance_scale``
    (see docs/evaluate.md).
    ``align_reference``: with ``split_from``, apply prepare's recorded shift and gains to
    the reference (what the model was trained to produce).
    ``sr``: score this super-resolved raster (``s2sr apply`` of ``lr`` with ``model``, e.g. the one a
    run already wrote) instead of running the model again; its pixels are scored as they are
    (rounded to the input type when apply wrote it that way).
    """

    model_config = ConfigDict(extra="forbid")

    model: Path
    out: Path
    lr: Path | None = None
    hr: Path | None = None
    wald: Path | None = None
    split_from: Path | None = None
    sr: Path | None = None  # an SR raster apply already wrote for ``lr`` with this model: scored as it is
    bands: list[int] | None = None
    hr_bands: list[int] | None = None
    tile: int = Field(32, ge=4, le=1024)  # LR pixels
    max_pixels: int | None = Field(None, ge=1)
    seed: int = 0
    n_strata: int = Field(3, ge=1, le=10)
    data_range: float | None = Field(None, gt=0)
    change_tol: float = Field(0.01, gt=0, lt=1)
    edge_quantile: float = Field(0.5, gt=0, lt=1)
    opensr: bool = True
    opensr_max_pixels: int = Field(4_194_304, ge=1)
    reflectance_scale: float = Field(10000.0, gt=0)
    align_reference: bool = True
    overwrite: bool = False
    input_check: bool = True  # False: values/pixel size far from training warn instead of refusing
    keep_sr: bool = True
    progress: bool = True
    safe: bool = False  # score the model's ``apply --safe`` output (s2sr.infer.safe)
    degradation: str | None = None  # named members (s2sr.sensor.family), comma-separated: one row each
    real: Path | None = None  # a real input with no reference: statistics against the input itself

    @model_validator(mode="after")
    def _one_mode(self) -> EvalConfig:
        if self.real is not None:
            if self.lr is not None or self.hr is not None or self.wald is not None or self.degradation is not None:
                raise ValueError("--real IMG takes no --lr, --hr, --wald or --degradation: it scores the input as it comes")
            return self
        if self.degradation is not None:
            if self.lr is not None or (self.wald is None) == (self.hr is None):
                raise ValueError("--degradation needs --wald S2.tif, or --hr AERIAL.tif without --lr")
            return self
        pair = self.lr is not None or self.hr is not None
        if pair and self.wald is not None:
            raise ValueError("give either --lr and --hr (pair mode) or --wald IMG, not both")
        if self.wald is None and (self.lr is None or self.hr is None):
            raise ValueError("give --lr LR.tif and --hr HR.tif together, or --wald IMG.tif")
        if self.wald is not None and self.split_from is not None:
            raise ValueError("--split-from applies to pair mode (--lr/--hr) only")
        if self.safe and self.sr is not None:
            raise ValueError("--safe and --sr: --sr scores a file as it is; apply it with --safe, or drop --sr")
        if self.wald is not None and self.sr is not None:
            raise ValueError("--sr applies to pair mode (--lr/--hr) only: Wald mode super-resolves the image it degrades")
        return self

    @property
    def mode(self) -> str:
        if self.real is not None:
            return "real"
        if self.degradation is not None:
            return "degradations"
        return "wald" if self.wald is not None else "pair"


def make_eval_config(**kwargs: Any) -> EvalConfig:
    """Build an :class:`EvalConfig`, turning validation errors into one-line ConfigErrors."""
    try:
        return EvalConfig(**kwargs)
    except ValidationError as e:
        loc, msg, value = describe_validation_error(e)
        if loc:
            opt = "--" + loc.replace("_", "-")
            raise ConfigError(f"{opt} {value!r}: {msg}; fix the option") from None
        raise ConfigError(msg) from None
