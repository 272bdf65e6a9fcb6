"""What ``apply`` writes besides pixels: georeferencing, tags GIS tools and users read, the run id.

- Band descriptions are the model's band names; colour interpretation is red/green/blue for
  B4/B3/B2 (undefined for the other bands), so QGIS and co. show true colour by default.
- The source's tags (SENSOR, LEVEL, DATATAKE, STAC_ITEM, CLOUD_COVER, ...) are copied, then
  s2sr's own: model name, architecture and version, s2sr version, input, window, backend.
- ``S2SR_RUN`` identifies the computation (model weights, input files, every option that
  changes pixels or the file): ``--resume`` and batch runs skip an output that carries the
  run id they would write.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rasterio.windows import transform as window_transform

from s2sr._version import __version__
from s2sr.bands import colour_interp
from s2sr.grid import Grid, fine_grid
from s2sr.infer.journal import fingerprint
from s2sr.io.raster import RasterInfo

if TYPE_CHECKING:  # pragma: no cover
    from s2sr.infer.apply import ApplyConfig
    from s2sr.infer.model import LoadedModel
    from s2sr.infer.tiling import TilePlan
    from s2sr.io.sources import ResolvedInput
    from s2sr.io.values import OutputSpec

log = logging.getLogger(__name__)

RUN_TAG = "S2SR_RUN"


def run_header(lm: LoadedModel, inp: ResolvedInput, plan: TilePlan, bands: list[int], spec: OutputSpec,
               opts: ApplyConfig) -> dict[str, Any]:
    """Everything that decides the output pixels (the resume journal's fingerprint)."""
    r = plan.region
    return {
        "model": lm.fingerprint, "src": inp.origin, "src_files": inp.fingerprint(),
        "region": [r.col_off, r.row_off, r.width, r.height], "tile": plan.tile, "overlap": plan.overlap,
        "margin": plan.margin, "bands": bands, "spec": asdict(spec), "precision": opts.precision,
        "backend": opts.backend, "edge": opts.edge,
        **({"safe": [opts.safe_strength, opts.uncertainty_level]} if opts.safe else {}),
    }


def run_id(header: dict[str, Any], opts: ApplyConfig) -> str:
    """The id of the finished file: the pixels' header plus the file's own options (compression, --co)."""
    return fingerprint({"header": header, "compress": opts.compress, "level": opts.compress_level,
                        "co": opts.creation_options})[:24]


def finished(dst: Path, rid: str) -> bool:
    """True when ``dst`` is a complete output of the run ``rid``."""
    if not dst.is_file():
        return False
    import rasterio
    from rasterio.errors import RasterioIOError

    try:
        with rasterio.open(dst) as ds:
            return ds.tags().get(RUN_TAG) == rid
    except RasterioIOError:
        return False


def out_meta(lm: LoadedModel, inp: ResolvedInput, info: RasterInfo, plan: TilePlan, opts: ApplyConfig,
             rid: str) -> dict[str, Any]:
    """Georeferencing and metadata of the output (the fine grid of the region)."""
    r = plan.region
    lr = Grid(window_transform(r, info.grid.transform), int(r.width), int(r.height))
    tags = {
        **inp.tags,
        "S2SR_MODEL": lm.name, "S2SR_ARCH": lm.arch, "S2SR_SCALE": str(lm.scale),
        "S2SR_MODEL_VERSION": lm.version, "S2SR_VERSION": __version__, "S2SR_INPUT": input_name(inp),
        "S2SR_INPUT_BANDS": ",".join(map(str, inp.bands)) if inp.kind == "raster" else ",".join(inp.names),
        "S2SR_WINDOW": f"{r.col_off},{r.row_off},{r.width},{r.height}", "S2SR_BACKEND": opts.backend,
        "S2SR_PRECISION": opts.precision, RUN_TAG: rid,
    }
    if opts.safe:
        from s2sr.infer.safe import safe_tags

        tags.update(safe_tags(opts.safe_strength, opts.uncertainty_level))
    return {"transform": fine_grid(lr, lm.scale).transform, "crs": info.crs, "descriptions": list(lm.bands),
            "colours": colour_interp(lm.bands), "tags": tags}


def input_name(inp: ResolvedInput) -> str:
    """The input as users know it: a file or folder name, or the STAC item id."""
    if inp.kind == "stac":
        return inp.label
    return inp.origin.rstrip("/").rsplit("/", 1)[-1]
