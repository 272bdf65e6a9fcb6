"""``prepare.json``: the typed manifest of a prepared dataset folder (written and read only here).

Format ``s2sr-prepare``, ``format_version`` 2: one :class:`PairRecord` per LR/HR pair
holding its inputs, what ``prepare`` measured and applied (shift, gains) and its
place in a multi-scene dataset (scene, group, whole-scene split, declared pixel
size, pair or Wald pair). Version 1 files (``inputs`` and ``pairs`` as two parallel
lists) are still read; a newer version or another format is refused with the fix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from s2sr._version import __version__
from s2sr.errors import InputError, describe_validation_error

FORMAT = "s2sr-prepare"
FORMAT_VERSION = 2
MANIFEST = "prepare.json"
SHIFT_CONVENTION = "offset of LR content relative to HR, LR px, x east, y south"
Split = Literal["train", "val", "test"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ShiftReport(_Model):
    """Offset of the LR content relative to the HR (LR px, x east, y south), measured per pair."""

    dx: float | None = 0.0  # None: not measured (no usable window)
    dy: float | None = 0.0
    per_window: list[tuple[float, float]] = Field(default_factory=list)
    spread: float = 0.0
    applied: bool = False
    convention: str = SHIFT_CONVENTION


class HarmonisationReport(_Model):
    """Per-band fit LR = gain * HR + offset (``gains`` None: not estimated)."""

    gains: list[float] | None = None
    offsets: list[float] | None = None
    pixels: int = 0
    applied: bool = False
    model: str = "LR = gain * HR + offset"


class WindowRecord(_Model):
    col_off: int
    row_off: int
    width: int
    height: int


class PairRecord(_Model):
    """One LR/HR pair of the dataset: inputs, measurements, place in a multi-scene dataset."""

    lr: str
    hr: str
    lr_bands: list[int] = Field(default_factory=list)
    hr_bands: list[int] = Field(default_factory=list)
    crs_wkt: str | None = None
    epsg: int | None = None
    lr_res: float | None = None  # LR CRS units
    hr_res: float | None = None  # LR CRS units
    hr_resampling: str | None = None
    lr_transform: list[float] | None = None
    lr_size: tuple[int, int] | None = None
    shift_lr_px: ShiftReport = Field(default_factory=ShiftReport)
    harmonisation: HarmonisationReport = Field(default_factory=HarmonisationReport)
    overlap_window: WindowRecord | None = None
    warnings: list[str] = Field(default_factory=list)
    # a dataset of many scenes: defaults describe one pair split by blocks
    scene: str | None = None
    group: str | None = None  # e.g. the city; whole groups can be held out
    split: Split | None = None  # whole scene to one split; None: block split inside the scene
    lr_res_m: float | None = None  # declared LR pixel size, metres (no CRS, or degrees)
    kind: Literal["pair", "wald", "pseudo"] = "pair"  # pseudo: LR made from the HR by a fitted degradation


class UnpairedRecord(_Model):
    """``prepare --unpaired``: where the HR and the LR domain came from, and the fitted degradation."""

    lr_domain: list[str]  # the Sentinel-2 images the degradation was fitted to
    hr: list[str]  # the HR images the pseudo-pairs were made from
    s2_res_m: float  # pixel size of the Sentinel-2 images (the model's input)
    train_res_m: float  # pixel size of the pseudo-LR patches
    fine_res_m: float  # pixel size of the HR targets
    held_out: dict[str, str] = Field(default_factory=dict)  # HR image name -> whole split
    fit: dict[str, Any] = Field(default_factory=dict)  # DegradationFit.to_dict()


class SensorRecord(_Model):
    """:class:`s2sr.sensor.SensorModel` parameters."""

    scale: int
    mtf_nyquist: float = 0.3


class FineGridRecord(_Model):
    transform: list[float]
    width: int
    height: int
    res: float


class SplitSettings(_Model):
    block_lr_px: int | None = None
    blocks: dict[str, int] | None = None  # split blocks per split (train/val/test), all scenes
    gap_lr_px: int | None = None
    val_fraction: float | None = None
    test_fraction: float | None = None
    sampling: str | None = None


class Manifest(_Model):
    """Everything ``prepare`` records about a dataset folder."""

    format: Literal["s2sr-prepare"] = "s2sr-prepare"
    format_version: int = FORMAT_VERSION
    version: str = __version__
    scale: int
    patch_size: int
    hr_patch_size: int | None = None
    bands: list[str]
    lr_res: float | None = None
    lr_res_m: float | None = None  # LR patch pixel size in metres (None: unknown)
    input_res_m: float | None = None  # pixel size of the images the model is for (Wald: the source)
    dtype: str = "uint16"  # data type of the LR input images
    crs: str | None = None
    crs_wkt: str | None = None
    epsg: int | None = None
    fine_grid: FineGridRecord | None = None
    sensor: SensorRecord | None = None
    pairs: list[PairRecord] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict)
    rejects: dict[str, int] = Field(default_factory=dict)
    split: SplitSettings = Field(default_factory=SplitSettings)
    footprint: str = ""
    seed: int | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    unpaired: UnpairedRecord | None = None  # set by ``prepare --unpaired``
    # set by ``prepare --finer``: the degradation family training draws each input from
    # ({"family": DegradationFamily.to_dict(), ...}); None: the stored LR patches are the inputs
    degradation: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        """Version 1 kept the inputs and the measurements of each pair in two lists."""
        if isinstance(data, dict) and data.get("format_version") == 1:
            inputs = data.get("inputs") or []
            reports = data.get("pairs") or []
            data = {**data, "pairs": [{**i, **r} for i, r in zip(inputs, reports, strict=False)]}
        return data


def write_manifest(root: Path, manifest: Manifest) -> Path:
    """Write ``root/prepare.json`` (the caller makes the folder atomic)."""
    path = Path(root) / MANIFEST
    path.write_text(json.dumps(manifest.model_dump(mode="json"), indent=2))
    return path


def read_manifest(root: Path) -> Manifest | None:
    """``root/prepare.json`` checked and typed; None when the file does not exist."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid JSON ({e}); re-run `s2sr prepare`") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise InputError(f"{path}: not a dataset manifest of `s2sr prepare` (format {FORMAT!r}); "
                         "pass the folder written by `s2sr prepare`, or re-run it")
    version = raw.get("format_version")
    if version not in (1, FORMAT_VERSION):
        raise InputError(f"{path}: format_version {version!r}, this s2sr reads 1..{FORMAT_VERSION}; "
                         "re-run `s2sr prepare` with this version (or upgrade s2sr)")
    try:
        return Manifest.model_validate(raw)
    except ValidationError as e:
        loc, msg, _ = describe_validation_error(e)
        raise InputError(f"{path}: {loc or 'manifest'}: {msg}; re-run `s2sr prepare`") from None
