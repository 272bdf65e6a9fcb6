"""The registry of installed models and the one resolver of model arguments.

The registry is ``registry.toml`` beside this module (one ``[models.NAME]`` table per model,
files relative to the registry's folder; no folder scanning). ``$S2SR_MODELS_DIR`` (or the
``directory`` argument) points to another folder with its own ``registry.toml`` instead: tests
and private model collections use it.

:func:`resolve_model` is what every command does with a model argument: a path that exists wins,
else an installed model's name, else one :class:`~s2sr.errors.ModelError` line.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s2sr.errors import ConfigError, ModelError

MODELS_DIR_ENV = "S2SR_MODELS_DIR"
REGISTRY_FILE = "registry.toml"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_KEYS = {"file", "card", "description", "attribution", "licence"}


@dataclass(frozen=True)
class InstalledModel:
    """One registry entry: the bundle file, its model card and the notes shown by ``s2sr models``."""

    name: str
    path: Path
    card: Path | None
    description: str = ""
    attribution: str = ""
    licence: str = ""


def models_dir(directory: str | os.PathLike[str] | None = None) -> Path:
    """The folder holding ``registry.toml``: ``directory``, else ``$S2SR_MODELS_DIR``, else the package's."""
    if directory is not None:
        return Path(directory)
    env = os.environ.get(MODELS_DIR_ENV)
    return Path(env) if env else Path(__file__).resolve().parent


def installed_models(directory: str | os.PathLike[str] | None = None) -> dict[str, InstalledModel]:
    """The registered models by name, in registry order (files are not opened)."""
    folder = models_dir(directory)
    reg = folder / REGISTRY_FILE
    if not reg.is_file():
        where = f"{MODELS_DIR_ENV}={folder}" if directory is None and os.environ.get(MODELS_DIR_ENV) else str(folder)
        raise ConfigError(f"{where}: no {REGISTRY_FILE} in that folder; point {MODELS_DIR_ENV} at a folder "
                          f"with a {REGISTRY_FILE}, or unset it to use the installed models")
    try:
        data = tomllib.loads(reg.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{reg}: cannot parse ({' '.join(str(e).split())}); fix the syntax") from None
    tables = data.get("models", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"{reg}: 'models' must be a table of [models.NAME] entries")
    return {name: _entry(reg, folder, name, t) for name, t in tables.items()}


def _entry(reg: Path, folder: Path, name: str, table: Any) -> InstalledModel:
    if not NAME_RE.match(name):
        raise ConfigError(f"{reg}: model name {name!r} must be letters, digits, '.', '_' or '-'; rename the entry")
    if not isinstance(table, dict) or not isinstance(table.get("file"), str):
        raise ConfigError(f"{reg}: [models.{name}] needs file = \"{name}.pt\"; add it")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise ConfigError(f"{reg}: [models.{name}] has unknown key(s) {', '.join(unknown)}; "
                          f"use {', '.join(sorted(_KEYS))}")
    bad = [k for k, v in table.items() if not isinstance(v, str)]
    if bad:
        raise ConfigError(f"{reg}: [models.{name}] {', '.join(bad)} must be text (quoted); fix the entry")
    if not table["file"].endswith(".pt"):
        raise ConfigError(f"{reg}: [models.{name}] file {table['file']!r} must be a model bundle (*.pt)")
    for key in ("file", "card"):
        if key in table and (Path(table[key]).is_absolute() or ".." in Path(table[key]).parts):
            raise ConfigError(f"{reg}: [models.{name}] {key} {table[key]!r} must be a file name beside the registry")
    card = folder / table["card"] if "card" in table else folder / f"{name}.md"
    return InstalledModel(
        name=name, path=folder / table["file"], card=card if "card" in table or card.is_file() else None,
        description=table.get("description", ""), attribution=table.get("attribution", ""),
        licence=table.get("licence", ""),
    )


def installed_entry(model: str | os.PathLike[str], directory: str | os.PathLike[str] | None = None
                    ) -> InstalledModel | None:
    """The registry entry ``model`` names, or None when ``model`` is an existing path (a path wins)."""
    if Path(model).exists():
        return None
    entry = installed_models(directory).get(str(model))
    return entry


def resolve_model(model: str | os.PathLike[str], directory: str | os.PathLike[str] | None = None) -> Path:
    """The model file for ``model``: an existing path as is, else the file of the installed model so named."""
    path = Path(model)
    if path.exists():
        return path
    models = installed_models(directory)
    entry = models.get(str(model))
    if entry is None:
        names = ", ".join(models) or "none"
        raise ModelError(f"{model}: model file not found, and no installed model has that name (installed: {names}); "
                         "pass the path of RUN/best.pt (or of an .onnx export) or a name listed by `s2sr models`")
    if not entry.path.is_file():
        raise ModelError(f"{model}: the installed model's file {entry.path} is missing; reinstall s2sr "
                         "(pip install --force-reinstall s2sr) or pass the path of a model file")
    return entry.path
