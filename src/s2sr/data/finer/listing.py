"""The list of finer images (and Sentinel-2 Wald scenes) a finer-sensor dataset is made from.

A TOML file::

    scale = 4
    patch_size = 40                  # LR px of a stored patch (training crops inside it)
    stride_m = 80                    # ground distance between patch origins, at every target size
    target_res_m = [2.5, 2.0, 1.0]   # target pixel sizes: the x4 relation at each (2.5 -> 10 m, ...)
    val_res_m = [2.5]                # target sizes of the val images (the model's own)
    wald = "s2_cities_wald.toml"     # Sentinel-2 scene list: Wald pairs (10 -> 40 m) of its train and
    wald_stride = 24                 # val scenes, and the radiometry reference (its train scenes)
    family = { sharp_share = 0.25 }  # optional: DegradationFamily keyword arguments

    [[image]]
    path = "aerial_hr/banepa_nepal_0p5m.tif"
    place = "banepa"                 # images of one place share a split
    split = "train"                  # train | val | test (test images are listed, never stored)
    bands = "rgb"                    # rgb (R, G, B; no NIR: masked out of the loss) or rgbn

Relative paths start at ``--scene-root`` (default: the list's folder); ``wald`` is relative to the
list itself.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from s2sr.errors import ConfigError, describe_validation_error


class FinerImage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path
    place: str
    split: Literal["train", "val", "test"]
    bands: Literal["rgb", "rgbn"] = "rgb"

    @property
    def name(self) -> str:
        return self.path.stem


class FinerList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scale: int = 4
    patch_size: int = Field(default=40, ge=8)
    stride_m: float = Field(default=80.0, gt=0)
    target_res_m: list[float] = Field(default_factory=lambda: [2.5])
    val_res_m: list[float] = Field(default_factory=lambda: [2.5])
    wald: Path | None = None
    wald_stride: int = Field(default=24, ge=1)
    family: dict[str, Any] = Field(default_factory=dict)  # DegradationFamily keyword arguments (s2sr.sensor.family)
    image: list[FinerImage] = Field(default_factory=list)

    @field_validator("target_res_m", "val_res_m")
    @classmethod
    def _res(cls, v: list[float]) -> list[float]:
        if not v or any(not 0 < r < 1000 for r in v):
            raise ValueError("give one or more target pixel sizes in metres, e.g. [2.5]")
        return v

    @field_validator("family")
    @classmethod
    def _family(cls, v: dict[str, Any]) -> dict[str, Any]:
        from s2sr.sensor.family import DegradationFamily

        try:
            DegradationFamily.from_dict(v)
        except (TypeError, ValueError) as e:
            raise ValueError(f"[family]: {e}") from None
        unknown = set(v) - set(DegradationFamily.__dataclass_fields__)
        if unknown:
            raise ValueError(f"[family]: unknown key(s) {sorted(unknown)}")
        return v

    @model_validator(mode="after")
    def _places(self) -> FinerList:
        split_of: dict[str, str] = {}
        for im in self.image:
            if split_of.setdefault(im.place, im.split) != im.split:
                raise ValueError(f"place {im.place!r} is in splits {split_of[im.place]} and {im.split}; "
                                 "keep a place's images in one split")
        if not any(im.split == "train" for im in self.image) and self.wald is None:
            raise ValueError("no train image and no wald scene list: nothing to train on")
        return self


def read_finer_list(path: str | Path, root: str | Path | None = None) -> FinerList:
    """Read and check a finer-image list; image paths resolved against ``root`` (default: its folder)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: finer-image list not found; pass a TOML file (see docs/prepare.md, 'Finer sensor')")
    try:
        raw = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot parse ({str(e).splitlines()[0]}); fix the TOML syntax") from None
    try:
        lst = FinerList.model_validate(raw)
    except ValidationError as e:
        loc, msg, _ = describe_validation_error(e)
        raise ConfigError(f"{path}: {(loc + ': ') if loc else ''}{msg}; fix the list") from None
    base = Path(root) if root is not None else path.parent
    if not base.is_dir():
        raise ConfigError(f"--scene-root {base}: not a folder; pass the folder the list's paths start from")
    images = [im.model_copy(update={"path": im.path if im.path.is_absolute() else base / im.path}) for im in lst.image]
    wald = None if lst.wald is None else (lst.wald if lst.wald.is_absolute() else path.parent / lst.wald)
    missing = [str(im.path) for im in images if not im.path.is_file()]
    if missing:
        raise ConfigError(f"{path}: image(s) not found: {', '.join(missing[:3])}; fix the paths or --scene-root")
    return lst.model_copy(update={"image": images, "wald": wald})
