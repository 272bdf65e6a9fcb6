"""The model card shown on the map: from a model bundle (.pt) or a MODEL_CARD.md file."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from s2sr.errors import ModelError

CARD_FILE = "MODEL_CARD.md"
MAX_MARKDOWN = 20_000


def _finite(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def compare_to_bicubic(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows ``{metric, model, bicubic}`` for each ``val_X`` that has a ``bicubic_X``."""
    rows = []
    for key, value in metrics.items():
        if not key.startswith("val_"):
            continue
        name = key[4:]
        model, ref = _finite(value), _finite(metrics.get(f"bicubic_{name}"))
        if model is not None and ref is not None:
            rows.append({"metric": name, "model": model, "bicubic": ref})
    return rows


def _plain(d: Any) -> dict[str, Any]:
    """Keep JSON-able scalars of a (possibly nested) free-form dict, one level deep."""
    if not isinstance(d, dict):
        return {}
    return {str(k): v for k, v in d.items() if isinstance(v, str | int | float | bool) or v is None}


def card_from_bundle(path: Path) -> dict[str, Any]:
    """Read a bundle's metadata (not its weights' architecture) with ``weights_only`` loading."""
    from s2sr.bundle import FORMAT, torch_load

    d = torch_load(path, "checkpoint", "pass RUN/best.pt or MODEL_CARD.md")
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise ModelError(f"{path}: not an s2sr model checkpoint; pass RUN/best.pt or MODEL_CARD.md")
    metrics = _plain(d.get("metrics"))
    return {
        "source": path.name,
        "arch": d.get("arch"),
        "arch_kwargs": _plain(d.get("arch_kwargs")),
        "scale": d.get("scale"),
        "bands": list(d.get("bands") or []),
        "input_res": d.get("input_res"),
        "version": d.get("version"),
        "metrics": metrics,
        "vs_bicubic": compare_to_bicubic(metrics),
    }


def _markdown(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            head = fh.read(4 * MAX_MARKDOWN)
    except OSError as e:
        raise ModelError(f"{path}: cannot read the model card ({e.strerror}); check the path") from None
    if b"\0" in head:  # a GeoTIFF, an .onnx...: binary, not a card to show as text
        raise ModelError(f"{path}: not a model card (binary file); pass RUN/best.pt or RUN/MODEL_CARD.md")
    return head.decode("utf-8", errors="replace")[:MAX_MARKDOWN]


def load_card(path: str | Path) -> dict[str, Any]:
    """A card dict from a ``.pt`` bundle (plus MODEL_CARD.md beside it, if any), a markdown file, or
    an installed model's name (its bundle and registered card)."""
    from s2sr.models.registry import installed_entry, resolve_model

    entry = installed_entry(path)
    p = resolve_model(path)
    if not p.is_file():
        raise ModelError(f"{p}: model file not found; pass RUN/best.pt or RUN/MODEL_CARD.md")
    if p.suffix.lower() in (".pt", ".pth"):
        card = card_from_bundle(p)
        md = entry.card if entry is not None and entry.card is not None else p.with_name(CARD_FILE)
        card["markdown"] = _markdown(md) if md.is_file() else None
        return card
    return {"source": p.name, "arch": None, "scale": None, "bands": [], "metrics": {},
            "vs_bicubic": [], "markdown": _markdown(p)}
