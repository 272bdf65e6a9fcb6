"""``list_models``: what ``s2sr models`` shows about each installed model (read from its bundle)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from s2sr.models.registry import installed_models, models_dir


@dataclass
class ModelSummary:
    """One installed model: registry entry plus the bundle's own description and validation figures."""

    name: str
    arch: str
    scale: int
    bands: list[str]
    input_res: float | None  # pixel size (m) of the images it is for
    size_bytes: int
    path: str
    card: str | None
    version: str | None = None
    validation: list[dict[str, Any]] = field(default_factory=list)  # {metric, model, bicubic}
    description: str = ""
    attribution: str = ""
    licence: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_models(directory: str | os.PathLike[str] | None = None) -> list[ModelSummary]:
    """Every registered model, in registry order; reads each bundle's metadata (``weights_only``)."""
    from s2sr.errors import ModelError
    from s2sr.serve.card import card_from_bundle

    out = []
    for m in installed_models(directory).values():
        if not m.path.is_file():
            raise ModelError(f"{m.name}: the installed model's file {m.path} is missing; reinstall s2sr "
                             "(pip install --force-reinstall s2sr)")
        c = card_from_bundle(m.path)
        out.append(ModelSummary(
            name=m.name, arch=str(c["arch"]), scale=int(c["scale"]), bands=list(c["bands"]),
            input_res=c.get("input_res"), size_bytes=m.path.stat().st_size, path=str(m.path),
            card=str(m.card) if m.card is not None else None, version=c.get("version"),
            validation=list(c["vs_bicubic"]), description=m.description, attribution=m.attribution,
            licence=m.licence,
        ))
    return out


def format_models(models: list[ModelSummary], directory: str | os.PathLike[str] | None = None) -> str:
    """Plain-text listing, one block per model (``no models installed`` when empty)."""
    if not models:
        reg = Path(models_dir(directory)) / "registry.toml"
        return (f"no models installed (registry: {reg}); pass a model file instead, e.g. "
                "s2sr apply RUN/best.pt IN.tif OUT.tif")
    blocks = []
    for m in models:
        res = f"{m.input_res:g} m pixels" if m.input_res else "pixel size unknown"
        lines = [f"{m.name}: {m.arch} x{m.scale}, bands {','.join(m.bands)}, for {res}, "
                 f"{m.size_bytes / 1e6:.1f} MB" + (f" - {m.description}" if m.description else "")]
        if m.validation:
            lines.append("  validation: " + ", ".join(
                f"{r['metric']} {r['model']:.4g} (bicubic {r['bicubic']:.4g})" for r in m.validation))
        lines.append(f"  file: {m.path}")
        lines.append(f"  card: {m.card or '(none)'}")
        for label, text in (("training data", m.attribution), ("licence", m.licence)):
            if text:
                lines.append(f"  {label}: {text}")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)
