"""Typed configuration of ``s2sr serve``: scenes (SR, LR, footprint, model) plus host and port.

Built from CLI options or loaded from a small TOML, YAML or JSON file::

    host = "127.0.0.1"
    port = 8000
    [[scenes]]
    name = "demo"           # optional; URL-safe id, default: the SR file's stem
    sr = "out/sr.tif"       # required: the super-resolved COG
    lr = "lr.tif"           # optional: the original Sentinel-2 image
    footprint = "data/footprint.geojson"   # optional
    model = "run/best.pt"   # optional: a model bundle (.pt), MODEL_CARD.md or an installed model's name
    uncertainty = "out/sr.uncertainty.tif"   # optional; default: <sr stem>.uncertainty.tif when it exists

Relative paths in a file are resolved against the file's folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from s2sr.errors import ConfigError, describe_validation_error
from s2sr.io.configfile import read_mapping

NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def safe_name(text: str) -> str:
    """A URL-safe scene id from any text (file stem)."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:64]
    return name or "scene"


class SceneConfig(BaseModel):
    """One scene: the SR COG and what is shown beside it."""

    model_config = ConfigDict(extra="forbid")

    name: str = ""
    sr: Path
    lr: Path | None = None
    footprint: Path | None = None
    model: Path | None = None
    uncertainty: Path | None = None  # apply --uncertainty output (default: found beside the SR)

    @model_validator(mode="after")
    def _default_name(self) -> SceneConfig:
        if not self.name:
            self.name = safe_name(self.sr.stem)
        if not NAME_RE.match(self.name):
            raise ValueError(f"scene name {self.name!r} must match {NAME_RE.pattern}")
        return self


class ServeConfig(BaseModel):
    """What ``s2sr serve`` shows and where it listens."""

    model_config = ConfigDict(extra="forbid")

    scenes: list[SceneConfig] = Field(min_length=1)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    allow_hosts: list[str] = Field(default_factory=list)  # Host names accepted besides the bound address's

    @field_validator("scenes")
    @classmethod
    def _unique_names(cls, scenes: list[SceneConfig]) -> list[SceneConfig]:
        seen: set[str] = set()
        for sc in scenes:
            name, n = sc.name, 1
            while name in seen:
                n += 1
                name = f"{sc.name}-{n}"
            sc.name = name
            seen.add(name)
        return scenes


def _first_error(e: ValidationError) -> str:
    loc, msg, _ = describe_validation_error(e)
    return f"{loc or 'config'}: {msg}"


def build_config(data: dict[str, Any], source: str = "options") -> ServeConfig:
    """Validate a plain dict into a :class:`ServeConfig` (one-line :class:`ConfigError`)."""
    try:
        return ServeConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(f"{source}: invalid serve config ({_first_error(e)}); fix that entry") from None


def load_config(path: str | os.PathLike[str], overrides: dict[str, Any] | None = None) -> ServeConfig:
    """Load a TOML/YAML/JSON serve config; relative paths are taken from the file's folder."""
    p = Path(path)
    data = read_mapping(p, "a mapping with a 'scenes' list (see docs/serve.md)")
    base = p.resolve().parent
    for sc in data.get("scenes") or []:
        if isinstance(sc, dict):
            for key in ("sr", "lr", "footprint", "model", "uncertainty"):
                if isinstance(sc.get(key), str) and not (key == "model" and _installed_name(base, sc[key])):
                    sc[key] = str(base / sc[key])
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return build_config(data, str(p))


def _installed_name(base: Path, value: str) -> bool:
    """``model = "NAME"`` names an installed model (and no file of that name is beside the config)."""
    from s2sr.models.registry import installed_models

    return not (base / value).exists() and value in installed_models()


def config_from_options(
    sr: list[str],
    lr: list[str] | None = None,
    footprint: list[str] | None = None,
    model: list[str] | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    allow_hosts: list[str] | None = None,
    uncertainty: list[str] | None = None,
) -> ServeConfig:
    """Pair repeated ``--sr/--lr/--footprint/--model-card/--uncertainty`` options by position."""
    scenes: list[dict[str, Any]] = [{"sr": s} for s in sr]
    for key, values in (("lr", lr), ("footprint", footprint), ("model", model), ("uncertainty", uncertainty)):
        values = values or []
        if len(values) == 1 and len(scenes) > 1 and key in ("footprint", "model"):
            values = values * len(scenes)  # one footprint/model for every scene
        if values and len(values) != len(scenes):
            opt = "--model-card" if key == "model" else f"--{key}"
            raise ConfigError(
                f"{opt}: given {len(values)} time(s) for {len(scenes)} --sr; give it once per --sr, in the same order"
            )
        for sc, v in zip(scenes, values, strict=False):
            sc[key] = v
    return build_config({"scenes": scenes, "host": host, "port": port, "allow_hosts": allow_hosts or []})
