"""Installed models: a registry (``registry.toml`` in this folder) that maps names to bundle files.

``resolve_model`` turns what a user typed (a file path or an installed model's name) into a
file path; every command that takes a model uses it. See :mod:`s2sr.models.registry`.
"""

from __future__ import annotations

from s2sr.models.registry import (
    MODELS_DIR_ENV,
    InstalledModel,
    installed_models,
    models_dir,
    resolve_model,
)

__all__ = ["MODELS_DIR_ENV", "InstalledModel", "installed_models", "models_dir", "resolve_model"]
