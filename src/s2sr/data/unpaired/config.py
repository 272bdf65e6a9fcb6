"""Typed configuration of ``prepare --unpaired`` (validated when built)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError, field_validator, model_validator

from s2sr.data.config import PatchOptions
from s2sr.errors import ConfigError, describe_validation_error


class UnpairedConfig(PatchOptions):
    """Sentinel-2 images (the LR domain) and HR images of other places (with :class:`PatchOptions`;
    ``res_m``: the S2 pixel size for files without a metric CRS)."""

    lr: list[Path]  # Sentinel-2 images: the LR domain the degradation is fitted to
    hr: list[Path]  # finer images of other places, any CRS (metric), pixel size, dtype
    train_res_m: float | None = None  # pseudo-LR pixel size (m); default the S2 pixel size
    mtf_nyquist: float | None = None  # a known MTF instead of the fitted one
    val_hr: list[str] = []  # HR image names (file stems) held out whole for validation
    test_hr: list[str] = []
    edge_fits: int = 4000  # edge windows fitted for the MTF, over all S2 images and bands
    max_lr_px: int = 2048  # S2 pixels a side read (centre window) per image for the fit
    max_hr_pixels: int = 64_000_000  # HR pixels after resampling, per image

    @field_validator("lr", "hr")
    @classmethod
    def _some(cls, v: list[Path]) -> list[Path]:
        if not v:
            raise ValueError("give at least one image (--lr S2.tif and --hr AERIAL.tif)")
        return v

    @model_validator(mode="after")
    def _check(self) -> UnpairedConfig:
        for name in ("res_m", "train_res_m"):
            v = getattr(self, name)
            if v is not None and not 0 < v < 1e5:
                raise ValueError(f"{name} {v}: give a pixel size in metres, e.g. 10")
        if self.mtf_nyquist is not None and not 0 < self.mtf_nyquist < 1:
            raise ValueError(f"--mtf {self.mtf_nyquist}: must be in (0, 1), e.g. 0.3")
        if not (0 <= self.val_fraction < 1 and 0 <= self.test_fraction < 1 and self.val_fraction + self.test_fraction < 1):
            raise ValueError("val_fraction and test_fraction must be in [0, 1) with a sum < 1")
        if self.patch_stride is not None and not 1 <= self.patch_stride <= self.patch_size:
            raise ValueError(f"--patch-stride {self.patch_stride}: use 1..patch_size ({self.patch_size})")
        return self

    @property
    def inputs(self) -> list[Path]:
        return [*self.lr, *self.hr]


def make_unpaired_config(**kwargs: Any) -> UnpairedConfig:
    """Build an :class:`UnpairedConfig`, turning validation errors into one-line ConfigErrors."""
    try:
        return UnpairedConfig(**kwargs)
    except ValidationError as e:
        loc, msg, _ = describe_validation_error(e)
        raise ConfigError(f"prepare --unpaired option {loc or 'prepare'}: {msg}") from None
