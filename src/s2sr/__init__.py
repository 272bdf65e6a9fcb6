"""s2sr: super-resolution of Sentinel-2 imagery learned from a finer sensor."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from s2sr._version import __version__

if TYPE_CHECKING:  # pragma: no cover
    from s2sr.bundle import ModelBundle


def load_model(model: Any, device: str = "cpu") -> ModelBundle:
    """Rebuild a trained model from a checkpoint path (see :mod:`s2sr.bundle`) or an installed
    model's name (``s2sr models``; a path that exists wins)."""
    from s2sr.bundle import load_model as _load

    return _load(model, device=device)


__all__ = ["__version__", "load_model"]
