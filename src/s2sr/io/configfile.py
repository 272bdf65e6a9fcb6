"""The one reader of configuration files (TOML, YAML or JSON; no code is executed)."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

import yaml

from s2sr.errors import ConfigError

SUFFIXES = (".toml", ".yaml", ".yml", ".json")


def read_mapping(path: str | os.PathLike[str], expected: str = "a table/mapping of sections") -> dict[str, Any]:
    """The top-level mapping of ``path``; one-line ConfigErrors name the file and the fix."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: config file not found; check the path (a TOML, YAML or JSON file)")
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise ConfigError(f"{p}: unknown config type {suffix!r}; use .toml, .yaml or .json")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not a text file (a binary file named {p.name}?); pass a TOML, YAML or JSON "
                          "config") from None
    try:
        if suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif suffix == ".json":
            data = json.loads(text)
        else:
            data = yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, yaml.YAMLError) as e:
        raise ConfigError(f"{p}: cannot parse ({' '.join(str(e).split())}); fix the syntax") from None
    if data is None and suffix in (".yaml", ".yml"):
        data = {}  # an empty YAML file
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: the top level must be {expected}")
    return data
