"""s2sr: super-resolution of Sentinel-2 imagery learned from a finer sensor."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from s2sr._version import __version__

if TYPE_CHECKING:  # pragma: no cover
    from s2sr.bundle import ModelBundle


def load_model(path: Any, device: str = "cpu") -> ModelBundle:
    """Rebuild a trained model from a self-describing checkpoint (see :mod:`s2sr.bundle`)."""
    from s2sr.bundle import load_model as _load

    return _load(path, device=device)


__all__ = ["__version__", "load_model"]
