"""``apply`` over many inputs: one COG per input in a folder, finished ones skipped, a summary table.

Inputs are files, folders (SAFE products, band folders), STAC items, or glob patterns
(quoted, so that the shell leaves them to s2sr). Each output is ``OUT_DIR/NAME_sr.tif``
where NAME is the input's name without suffix. The model is loaded once. Every input runs
with ``--resume`` semantics: an output carrying this run's id is skipped, a partial one is
finished. A failing input is reported in the table and the others go on; the exit code is
then that of the first failure.
"""

from __future__ import annotations

import glob
import logging
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from s2sr.errors import ConfigError, OutputError, S2SRError
from s2sr.infer.apply import ApplyConfig, apply_model
from s2sr.io.guard import check_outputs

if TYPE_CHECKING:  # pragma: no cover
    from s2sr.bundle import ModelBundle

log = logging.getLogger(__name__)

GLOB_CHARS = "*?["


@dataclass
class BatchItem:
    src: str
    dst: Path
    status: str = "pending"  # done | skipped | failed
    detail: str = ""  # size, or the error
    seconds: float = 0.0
    exit_code: int = 0


def expand_inputs(specs: list[str]) -> list[str]:
    """Inputs with glob patterns expanded (sorted); a pattern that matches nothing is an error."""
    out: list[str] = []
    for s in specs:
        if any(c in s for c in GLOB_CHARS) and "://" not in s and not Path(s).exists():
            hits = sorted(glob.glob(s))
            if not hits:
                raise ConfigError(f"{s}: no file matches this pattern; check the path")
            out.extend(hits)
        else:
            out.append(s)
    return list(dict.fromkeys(out))


def output_name(src: str) -> str:
    """``S2_T31UDQ.tif`` -> ``S2_T31UDQ_sr.tif``; ``X.SAFE`` -> ``X_sr.tif``; ``item.json`` -> ``item_sr.tif``."""
    name = src.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
    for suffix in (".tif", ".tiff", ".vrt", ".jp2", ".json", ".SAFE", ".safe"):
        name = name.removesuffix(suffix)
    return f"{name}_sr.tif"


def plan_batch(inputs: list[str], out_dir: Path) -> list[BatchItem]:
    """One output per input in ``out_dir``; two inputs with the same output name are an error."""
    if not out_dir.is_dir():
        raise OutputError(f"--out-dir {out_dir}: not a folder; create it first (mkdir -p {out_dir})")
    items = [BatchItem(s, out_dir / output_name(s)) for s in expand_inputs(inputs)]
    seen: dict[Path, str] = {}
    for it in items:
        if it.dst in seen:
            raise ConfigError(f"{it.src} and {seen[it.dst]} would both write {it.dst}; apply them into "
                              "different --out-dir folders")
        seen[it.dst] = it.src
    # before anything is written: no output may be (or replace) any input of the batch, e.g. x.tif's output
    # x_sr.tif when x_sr.tif is itself an input
    local = [("input", it.src) for it in items if "://" not in it.src]
    check_outputs([it.dst for it in items], local, "choose another --out-dir (outputs are named NAME_sr.tif)")
    return items


def apply_batch(model: str | os.PathLike[str] | ModelBundle, inputs: list[str], out_dir: Path,
                opts: ApplyConfig) -> list[BatchItem]:
    """Apply ``model`` to every input; the status of each (see :class:`BatchItem`)."""
    items = plan_batch(inputs, Path(out_dir))
    model = _load_once(model)
    run_opts = replace(opts, resume=True)
    for k, it in enumerate(items, 1):
        log.info("batch %d/%d: %s -> %s", k, len(items), it.src, it.dst)
        t = time.perf_counter()
        try:
            res = apply_model(model, it.src, it.dst, run_opts)
        except S2SRError as e:
            it.status, it.detail, it.exit_code = "failed", str(e), e.exit_code
            log.error("%s", e)
        else:
            it.status = "skipped" if res.already_complete else "done"
            it.detail = f"{res.width}x{res.height}" + ("" if res.already_complete else f", {res.tiles_computed} tiles")
        it.seconds = time.perf_counter() - t
    return items


def _load_once(model: str | os.PathLike[str] | ModelBundle) -> str | os.PathLike[str] | ModelBundle:
    """A ``.pt`` bundle (a path or an installed model's name) is loaded once for all inputs (an ``.onnx``
    path is opened per input)."""
    if not isinstance(model, (str, os.PathLike)):
        return model
    from s2sr.models.registry import resolve_model

    path = resolve_model(model)
    if path.suffix.lower() == ".onnx":
        return path
    from s2sr.bundle import load_model

    return load_model(path)


def summary_table(items: list[BatchItem]) -> str:
    """A plain-text table: input, output, status, detail, seconds."""
    rows = [("input", "output", "status", "seconds", "detail")]
    rows += [(it.src, it.dst.name, it.status, f"{it.seconds:.1f}", it.detail) for it in items]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4] for r in rows]
    counts = {s: sum(it.status == s for it in items) for s in ("done", "skipped", "failed")}
    lines.append(f"{len(items)} input(s): {counts['done']} done, {counts['skipped']} skipped (already complete), "
                 f"{counts['failed']} failed")
    return "\n".join(lines)
