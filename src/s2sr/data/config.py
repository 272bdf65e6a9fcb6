"""Typed configuration and result of ``prepare`` (validated when built)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from s2sr.data.manifest import PairRecord
from s2sr.data.scenes import SceneSpec
from s2sr.errors import ConfigError, describe_validation_error
from s2sr.grid import check_scale


def check_patch_size(v: int) -> int:
    """``--patch-size`` in LR pixels (paired and unpaired prepare)."""
    if not 4 <= v <= 1024:
        raise ValueError(f"--patch-size {v}: use 4..1024 LR pixels, e.g. 32")
    return v


class PatchOptions(BaseModel):
    """What paired and unpaired ``prepare`` share: the grid, patches, splits and rejection thresholds,
    with the derived split defaults (:attr:`gap`, :attr:`block`) the split code reads
    (:class:`s2sr.data.sampling.SplitOptions`). Thresholds are in LR input units."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scale: int
    out: Path
    res_m: float | None = None  # LR (S2) pixel size (m) for files without a metric CRS
    patch_size: int = 32
    patch_stride: int | None = None  # LR px between train patches (grid sampling); < patch_size overlaps
    lr_bands: list[int] | None = None  # 1-based; default 1,2,3,4
    hr_bands: list[int] | None = None
    sampling: Literal["grid", "random"] = "grid"
    seed: int = 0
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    split_block: int | None = None  # LR px; default 4 * patch_size + 2 * split_gap
    split_gap: int | None = None  # LR px between a val/test patch and its block edge; default patch_size // 8
    bright_value: float = 4000.0  # a pixel whose band mean exceeds this is cloud / saturated
    max_bright_fraction: float = 0.05
    min_std: float = 15.0  # patches whose mean per-band std is lower have no texture
    overwrite: bool = False

    @field_validator("scale", mode="before")
    @classmethod
    def _scale(cls, v: Any) -> int:
        return check_scale(v)

    @field_validator("patch_size")
    @classmethod
    def _patch(cls, v: int) -> int:
        return check_patch_size(v)

    @property
    def gap(self) -> int:
        return self.split_gap if self.split_gap is not None else max(1, self.patch_size // 8)

    @property
    def block(self) -> int:
        return self.split_block or 4 * self.patch_size + 2 * self.gap

    @property
    def lr_band_list(self) -> list[int]:
        return self.lr_bands or [1, 2, 3, 4]


class PrepareConfig(PatchOptions):
    """Everything ``prepare`` needs (with :class:`PatchOptions`)."""

    pairs: list[tuple[Path, Path]] = []  # --lr/--hr pairs; they become the first scenes
    scenes: list[SceneSpec] = []  # a scene list (pairs and/or Wald images), see data/scenes.py
    coregister: bool = False
    harmonise: bool = False
    max_patches: int | None = None
    mtf_nyquist: float = 0.3
    coreg_window: int = 128  # LR px
    coreg_windows: int = 5

    @model_validator(mode="before")
    @classmethod
    def _pairs_to_scenes(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("pairs"):
            res = data.get("res_m")
            extra = [SceneSpec(lr=Path(lr), hr=Path(hr), res_m=res) for lr, hr in data["pairs"]]
            data = {**data, "pairs": [], "scenes": extra + list(data.get("scenes") or [])}
        if isinstance(data, dict) and not data.get("scenes"):
            raise ValueError("give at least one --lr/--hr pair or a --scenes list")
        return data

    @model_validator(mode="after")
    def _fractions(self) -> PrepareConfig:
        for name in ("val_fraction", "test_fraction", "max_bright_fraction"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1)")
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError("val_fraction + test_fraction must be < 1")
        if self.split_block is not None and self.split_block < self.patch_size + 2 * self.gap:
            raise ValueError(f"split_block {self.split_block} must be >= patch_size + 2 * split_gap")
        if self.patch_stride is not None and not 1 <= self.patch_stride <= self.patch_size:
            raise ValueError(f"--patch-stride {self.patch_stride}: use 1..patch_size ({self.patch_size})")
        if self.max_patches is not None and self.max_patches < 1:
            raise ValueError("max_patches must be >= 1")
        return self

    @property
    def inputs(self) -> list[Path]:
        """Every input file of every scene."""
        return [p for sc in self.scenes for p in sc.inputs]

    @property
    def hr_band_list(self) -> list[int]:
        return self.hr_bands or [1, 2, 3, 4]


def make_prepare_config(**kwargs: Any) -> PrepareConfig:
    """Build a :class:`PrepareConfig`, turning validation errors into one-line ConfigErrors."""
    try:
        return PrepareConfig(**kwargs)
    except ValidationError as e:
        loc, msg, _ = describe_validation_error(e)
        raise ConfigError(f"prepare option {loc or 'prepare'}: {msg}") from None


@dataclass
class PrepareResult:
    """Where the dataset went and what it contains."""

    out: Path
    counts: dict[str, int]
    rejects: dict[str, int]
    pairs: list[PairRecord]
    bands: list[str]
    prepare_json: Path
    footprint: Path
