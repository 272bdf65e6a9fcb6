"""Scene lists: many LR/HR pairs or single Sentinel-2 images (Wald pairs) in one dataset.

A scene list is a TOML file::

    res_m = 10                       # optional default: pixel size (m) of files without a metric CRS
    [[scene]]
    wald = "oscd/beirut_20150820.tif"   # one S2 image -> (degraded, original) made on the fly
    group = "beirut"                 # optional; scenes of one group share a split (both dates of a city)
    split = "train"                  # optional: train | val | test (the whole scene); else blocks
    [[scene]]
    lr = "s2_paris.tif"              # or a co-registered pair
    hr = "spot_paris.tif"
    name = "paris"

or a CSV file with the header ``name,group,split,lr,hr,wald,res_m`` (empty cells allowed).
Relative paths are relative to the list's folder, or to ``--scene-root``. ``res_m`` is the pixel size in metres of
the ``wald`` image or of the ``lr`` image; it must be given when that file has no CRS or a
geographic one (pixels in degrees), and is checked against a metric CRS.
"""

from __future__ import annotations

import csv
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from s2sr.errors import ConfigError, describe_validation_error

CSV_FIELDS = ("name", "group", "split", "lr", "hr", "wald", "res_m")


class SceneSpec(BaseModel):
    """One scene of a dataset: an LR/HR pair, or one image made into a Wald pair."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    group: str | None = None
    split: Literal["train", "val", "test"] | None = None
    lr: Path | None = None
    hr: Path | None = None
    wald: Path | None = None
    res_m: float | None = None

    @field_validator("res_m")
    @classmethod
    def _res(cls, v: float | None) -> float | None:
        if v is not None and not 0 < v < 1e5:
            raise ValueError(f"res_m {v}: give the pixel size in metres, e.g. 10")
        return v

    @model_validator(mode="after")
    def _one_kind(self) -> SceneSpec:
        if self.wald is not None and (self.lr is not None or self.hr is not None):
            raise ValueError("give either wald = IMAGE or lr = ... and hr = ..., not both")
        if self.wald is None and (self.lr is None or self.hr is None):
            raise ValueError("give wald = IMAGE, or both lr = ... and hr = ...")
        return self

    @property
    def kind(self) -> Literal["pair", "wald"]:
        return "wald" if self.wald is not None else "pair"

    @property
    def label(self) -> str:
        """The scene name: ``name``, else the stem of its (LR or Wald) file."""
        src = self.wald if self.wald is not None else self.lr
        return self.name or (src.stem if src is not None else "scene")

    @property
    def group_name(self) -> str:
        return self.group or self.label

    @property
    def inputs(self) -> list[Path]:
        return [p for p in (self.lr, self.hr, self.wald) if p is not None]


def read_scene_list(path: str | Path, res_m: float | None = None, root: str | Path | None = None) -> list[SceneSpec]:
    """Read a TOML or CSV scene list; ``res_m`` is the default pixel size for every scene and
    ``root`` the folder relative paths start from (default: the list's own folder)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: scene list not found; pass a TOML or CSV file (see docs/prepare.md)")
    rows, default = (_read_csv(path) if path.suffix.lower() == ".csv" else _read_toml(path))
    if not rows:
        raise ConfigError(f"{path}: no scene; add [[scene]] tables (TOML) or rows (CSV)")
    base = Path(root) if root is not None else path.parent
    if not base.is_dir():
        raise ConfigError(f"--scene-root {base}: not a folder; pass the folder the scene list's paths start from")
    scenes = []
    for i, row in enumerate(rows, 1):
        row = {k: v for k, v in row.items() if v not in (None, "")}
        for key in ("lr", "hr", "wald"):
            if key in row:
                p = Path(str(row[key]))
                row[key] = p if p.is_absolute() else base / p
        row.setdefault("res_m", default if default is not None else res_m)
        try:
            scenes.append(SceneSpec(**row))
        except ValidationError as e:
            loc, msg, _ = describe_validation_error(e)
            raise ConfigError(f"{path}: scene {i}: {(loc + ': ') if loc else ''}{msg}; fix the scene list") from None
    _check_names(path, scenes)
    return scenes


def _read_toml(path: Path) -> tuple[list[dict[str, Any]], float | None]:
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot parse ({str(e).splitlines()[0]}); fix the TOML syntax") from None
    extra = set(data) - {"scene", "res_m"}
    if extra:
        raise ConfigError(f"{path}: unknown top-level key(s) {sorted(extra)}; use [[scene]] tables and res_m")
    scenes = data.get("scene", [])
    if not isinstance(scenes, list) or not all(isinstance(s, dict) for s in scenes):
        raise ConfigError(f"{path}: 'scene' must be an array of tables ([[scene]])")
    return scenes, data.get("res_m")


def _read_csv(path: Path) -> tuple[list[dict[str, Any]], float | None]:
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            fields = reader.fieldnames or []
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as e:
        raise ConfigError(f"{path}: not a readable CSV ({e}); fix the file") from None
    unknown = [c for c in fields if c not in CSV_FIELDS]
    if unknown:
        raise ConfigError(f"{path}: unknown column(s) {unknown}; the header is {','.join(CSV_FIELDS)}")
    return rows, None


def _check_names(path: Path, scenes: list[SceneSpec]) -> None:
    seen: dict[str, int] = {}
    for i, s in enumerate(scenes, 1):
        if s.label in seen:
            raise ConfigError(f"{path}: scene {i} has the same name {s.label!r} as scene {seen[s.label]}; "
                              "give each scene a unique name")
        seen[s.label] = i
    splits: dict[str, set[str]] = {}
    for s in scenes:
        splits.setdefault(s.group_name, set()).add(s.split or "blocks")
    for g, sp in splits.items():
        if len(sp) > 1:
            raise ConfigError(f"{path}: group {g!r} has scenes in different splits {sorted(sp)}; "
                              "keep a group (e.g. both dates of a city) on one side")


def assign_scene_splits(scenes: list[SceneSpec], val: list[str], test: list[str]) -> list[SceneSpec]:
    """Apply ``--val-scenes`` / ``--test-scenes`` (scene or group names); with either given, the
    other scenes without a split go to train. Unknown names are an error."""
    if not val and not test:
        return scenes
    known = {s.label for s in scenes} | {s.group_name for s in scenes}
    for name in (*val, *test):
        if name not in known:
            raise ConfigError(f"--val-scenes/--test-scenes: no scene or group named {name!r}; "
                              f"known: {', '.join(sorted(known))}")
    both = set(val) & set(test)
    if both:
        raise ConfigError(f"--val-scenes/--test-scenes: {sorted(both)} in both; put each in one")
    out = []
    for s in scenes:
        tags = {s.label, s.group_name}
        split = "val" if tags & set(val) else "test" if tags & set(test) else (s.split or "train")
        out.append(s.model_copy(update={"split": split}))
    return out
