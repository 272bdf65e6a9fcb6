"""``apply_model``: stream a model over a whole scene (or a window of it) into a COG.

Steps: check model and input, make the tile plan, compute tiles (local threads or
Dask), write finished pieces into a tiled partial GeoTIFF beside the output while a
journal records them, then let GDAL turn the partial file into a COG written
under a temporary name and renamed. See docs/apply.md.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Container, Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rasterio.windows import transform as window_transform
from tqdm import tqdm

from s2sr._version import __version__
from s2sr.errors import ConfigError, DiskFullError, InputError, OutputError
from s2sr.grid import Grid, fine_grid, pixel_region
from s2sr.infer.inputs import INPUT_CHECKS, check_input
from s2sr.infer.journal import Journal
from s2sr.infer.model import LoadedModel, load_for_apply
from s2sr.infer.scratch import TiledScratch
from s2sr.infer.sink import PieceSink
from s2sr.infer.tilework import Predictor, TileJob, TileResult
from s2sr.infer.tiling import Tile, TilePlan, make_plan
from s2sr.io.atomic import check_writable_dir
from s2sr.io.cog import write_cog
from s2sr.io.guard import check_outputs
from s2sr.io.raster import RasterInfo
from s2sr.io.stale import private_temp_dir, remove_stale_temps
from s2sr.io.values import OutputSpec
from s2sr.models.registry import resolve_model

if TYPE_CHECKING:  # pragma: no cover
    from s2sr.bundle import ModelBundle

log = logging.getLogger(__name__)


@dataclass
class ApplyConfig:
    """Options of :func:`apply_model` (the ``s2sr apply`` flags)."""

    bands: str | list[int] | None = None  # 1-based input bands, in the model's band order
    tile: int = 128  # core tile size, LR pixels
    overlap: int = 16  # blend zone width between tiles, LR pixels
    margin: int | None = None  # extra context, LR pixels (default: the model's receptive field)
    precision: str = "fp32"  # fp32 | bf16
    device: str = "cpu"
    backend: str = "torch"  # torch | onnx
    resume: bool = False
    dask: str | None = None  # scheduler address or "local:N"
    window: tuple[int, ...] | None = None  # col_off, row_off, width, height (LR pixels)
    bbox: tuple[float, ...] | None = None  # left, bottom, right, top (CRS units)
    out_dtype: str = "same"  # same | float32
    compress: str = "DEFLATE"  # DEFLATE | ZSTD
    edge: str = "reflect"  # padding at scene edges: reflect | replicate
    progress: bool = True
    queue_depth: int = 4
    threads: int | None = None  # torch / onnxruntime intra-op threads
    # compare the input's pixel size with the model's training resolution (off: not checked at all)
    check_resolution: bool = True
    # values/pixel size far from the model's training input: "refuse" (InputError), "warn"
    # (--no-input-check), or "skip" (the caller checked this image already; see infer/inputs.py)
    input_check: str = "refuse"
    # also write <OUT stem>.uncertainty.tif: the half-width of the calibrated interval at this level
    uncertainty: bool = False
    uncertainty_level: float = 0.9

    def __post_init__(self) -> None:
        choices = {"precision": ("fp32", "bf16"), "backend": ("torch", "onnx"), "out_dtype": ("same", "float32"),
                   "edge": ("reflect", "replicate"), "input_check": INPUT_CHECKS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"--{name.replace('_', '-')} {getattr(self, name)!r}: choose one of {', '.join(allowed)}")
        if self.backend == "onnx" and self.precision != "fp32":
            raise ConfigError(f"--precision {self.precision}: the onnx backend runs fp32 only; use --precision fp32")
        if self.window is not None and self.bbox is not None:
            raise ConfigError("--window and --bbox: pass only one of them")
        if self.window is not None:
            col, row, width, height = self.window
            if width <= 0 or height <= 0 or col < 0 or row < 0:
                raise ConfigError(f"--window {','.join(str(v) for v in self.window)}: expects COL,ROW,WIDTH,HEIGHT "
                                  "in input pixels with COL, ROW >= 0 and WIDTH, HEIGHT > 0; fix --window")
        if self.bbox is not None and not all(math.isfinite(v) for v in self.bbox):
            raise ConfigError(f"--bbox {self.bbox}: expects four finite numbers LEFT,BOTTOM,RIGHT,TOP; fix --bbox")
        if not 0 < self.uncertainty_level < 1:
            raise ConfigError(f"--uncertainty-level {100 * self.uncertainty_level:g}: choose a level in (0, 100) %, e.g. 90")
        if self.queue_depth < 1:
            raise ConfigError(f"queue_depth {self.queue_depth}: must be >= 1")


@dataclass
class ApplyResult:
    """What :func:`apply_model` did."""

    path: Path
    width: int
    height: int
    tiles_total: int
    tiles_computed: int
    tiles_skipped_nodata: int
    pieces_resumed: int
    seconds: float  # total wall time
    model_seconds: float  # time inside the model (local runs; 0 with Dask)
    backend: str
    precision: str
    stream_seconds: float = 0.0  # tile streaming stage (read, model, blend, write)
    cog_seconds: float = 0.0  # final COG conversion (compression, overviews)
    uncertainty_path: Path | None = None  # <OUT stem>.uncertainty.tif with --uncertainty


@dataclass
class _Counts:
    skipped: int = 0
    model_s: float = 0.0


def apply_model(
    model: str | os.PathLike[str] | ModelBundle,
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    opts: ApplyConfig | None = None,
) -> ApplyResult:
    """Super-resolve ``src`` with ``model`` (bundle, ``.pt`` or ``.onnx`` path, or an installed model's
    name) into the COG ``dst``."""
    opts = opts or ApplyConfig()
    src, dst = Path(src), Path(dst)
    if isinstance(model, (str, os.PathLike)):
        model = resolve_model(model)
    check_writable_dir(dst)
    if dst.is_dir():
        raise OutputError(f"{dst}: is a directory; pass an output file path such as {dst / 'sr.tif'}")
    model_path = model if isinstance(model, (str, os.PathLike)) else None
    extra = []
    if opts.uncertainty:
        from s2sr.infer.uncertainty import uncertainty_path

        extra = [uncertainty_path(dst), *side_files(uncertainty_path(dst))]
    check_outputs([dst, *side_files(dst), *extra], [("input", src), ("model", model_path)])
    if dst.suffix.lower() not in (".tif", ".tiff"):
        raise ConfigError(f"{dst}: s2sr apply writes a Cloud Optimized GeoTIFF; name the output *.tif")
    lm = load_for_apply(model, opts.backend, opts.device)
    if opts.uncertainty:
        from s2sr.infer.uncertainty import check_request

        check_request(lm, opts.uncertainty_level)
    t0 = time.perf_counter()
    info, bands = check_input(src, lm, opts.bands, opts.check_resolution, opts.input_check)
    remove_stale_temps(dst)  # the COG temporaries of a killed run (the partial output is kept for --resume)
    if opts.uncertainty:
        remove_stale_temps(extra[0])
    with ExitStack() as stack:
        if opts.backend == "onnx" and lm.onnx_path is None:
            from s2sr.infer.export import export_onnx  # onnx: only for this backend

            tmpdir = stack.enter_context(private_temp_dir("s2sr-onnx"))
            lm.onnx_path = export_onnx(lm.bundle, tmpdir / f"{lm.name}.onnx")
        try:
            return _run(lm, src, dst, opts, info, bands, t0, stack)
        except DiskFullError as e:
            raise DiskFullError(f"{dst}: disk full while writing; free space, then run the same command with "
                                "--resume to finish from the tiles already done (or write elsewhere)") from e


def side_files(dst: Path) -> tuple[Path, Path]:
    """The partial output and its resume journal, hidden beside ``dst``."""
    part, journal = (dst.with_name(f".{dst.name}.partial{ext}") for ext in (".tif", ".jsonl"))
    return part, journal


def _plan(lm: LoadedModel, src: Path, info: RasterInfo, opts: ApplyConfig) -> TilePlan:
    region = pixel_region(info.grid, opts.window, opts.bbox, info.path)
    margin = lm.receptive_field if opts.margin is None else opts.margin
    if margin < lm.receptive_field:
        log.warning("--margin %d is below the receptive field of %s (%d LR pixels): tiles are no longer exact "
                    "near their edges; the --overlap blending (%d) smooths the differences", margin, lm.name,
                    lm.receptive_field, opts.overlap)
    try:
        return make_plan(info.width, info.height, lm.scale, opts.tile, opts.overlap, margin, region)
    except ConfigError as e:  # the pure tile plan cannot name the file: add it
        raise ConfigError(f"{src}: {e}") from None


def _run(lm: LoadedModel, src: Path, dst: Path, opts: ApplyConfig, info: RasterInfo, bands: list[int],
         t0: float, stack: ExitStack) -> ApplyResult:
    plan = _plan(lm, src, info, opts)
    spec = OutputSpec("float32" if opts.out_dtype == "float32" else info.dtype, info.nodata)
    header, meta = _run_header(lm, src, plan, bands, spec, opts), _out_meta(lm, src, info, plan, opts)
    out_w, out_h = plan.out_size
    client = None
    if opts.dask:  # connect before creating the (scene-size) partial output: an unreachable scheduler writes nothing
        from s2sr.infer.dask_runner import dask_client  # distributed: only for --dask

        client = stack.enter_context(dask_client(opts.dask))
    outs = [_Output.start(dst, header, plan, len(bands), spec, meta, opts.resume)]
    head = None
    if opts.uncertainty:  # a second output beside the first, fed by the same tiles (s2sr.infer.uncertainty)
        from s2sr.infer.uncertainty import uncertainty_output

        head, u_dst, u_header, u_meta = uncertainty_output(lm, dst, header, meta, opts.uncertainty_level)
        try:
            outs.append(_Output.start(u_dst, u_header, plan, len(bands), spec, u_meta, opts.resume))
        except BaseException:
            outs[0].close()
            raise
    pieces_resumed = len(outs[0].journal.done)
    # tiles are chosen lazily, against the pieces done (in every output) before this run
    resumed_set = _DoneInAll([o.journal.done.copy() for o in outs])
    n_todo = sum(1 for _ in plan.todo(resumed_set)) if any(len(o.journal.done) for o in outs) else plan.n_tiles
    counts = _Counts()
    job = TileJob(src, plan, bands, info.nodata, opts.edge, max(1, lm.receptive_field), lm.norm_mean)
    t1 = time.perf_counter()
    try:
        try:
            _compute(lm, job, plan.todo(resumed_set), n_todo, _sink(outs, len(bands)), opts, counts, client, head)
        finally:
            for o in outs:
                o.close()
    except InputError:  # a corrupt input block: nothing worth resuming, leave no partial output
        for o in outs:
            o.discard()
        raise
    t2 = time.perf_counter()
    for o in outs:
        o.finish(spec.dtype, opts.compress)
    t3 = time.perf_counter()
    secs = time.perf_counter() - t0
    log.info("wrote %s (%dx%d, %d tiles in %.1f s)", dst, out_w, out_h, n_todo, secs)
    return ApplyResult(dst, out_w, out_h, plan.n_tiles, n_todo, counts.skipped, pieces_resumed,
                       secs, counts.model_s, opts.backend, opts.precision, t2 - t1, t3 - t2,
                       outs[1].dst if len(outs) > 1 else None)


@dataclass
class _Output:
    """One output file being streamed: its partial tiled GeoTIFF, resume journal and piece sink."""

    dst: Path
    journal: Journal
    scratch: TiledScratch
    sink: PieceSink

    @classmethod
    def start(cls, dst: Path, header: dict[str, Any], plan: TilePlan, count: int, spec: OutputSpec,
              meta: dict[str, Any], resume: bool) -> _Output:
        part_path, jpath = side_files(dst)
        journal = Journal(jpath, header, dst, len(plan.pieces))
        resumed = resume and part_path.exists() and journal.load()
        if resume and not resumed:
            log.info("--resume: no partial output for %s, starting from scratch", dst)
        out_w, out_h = plan.out_size
        scratch = TiledScratch(part_path, out_w, out_h, count, spec.dtype, report_as=dst)
        if not resumed:
            try:
                scratch.create(nodata=spec.nodata, **meta)
            except OutputError as e:  # nothing computed yet: nothing to resume (no --resume hint), nothing left
                part_path.unlink(missing_ok=True)
                raise OutputError(str(e)) from e
        scratch.open()
        journal.open(fresh=not resumed)
        return cls(dst, journal, scratch, PieceSink(plan, scratch, journal, spec))

    def close(self) -> None:
        try:
            self.scratch.close()
        finally:
            self.journal.close()

    def discard(self) -> None:
        for p in side_files(self.dst):
            p.unlink(missing_ok=True)

    def finish(self, dtype: str, compress: str) -> None:
        write_cog(side_files(self.dst)[0], self.dst, dtype, compress)
        self.discard()


@dataclass
class _DoneInAll:
    """Pieces done in every one of ``sets`` (what a resumed run need not compute again)."""

    sets: list[Container[int]]

    def __contains__(self, i: object) -> bool:
        return all(i in s for s in self.sets)


def _sink(outs: list[_Output], count: int) -> Any:
    if len(outs) == 1:
        return outs[0].sink
    from s2sr.infer.uncertainty import TeeSink

    return TeeSink(outs[0].sink, outs[1].sink, count)


def _compute(lm: LoadedModel, job: TileJob, todo: Iterator[Tile], n_todo: int, sink: PieceSink,
             opts: ApplyConfig, counts: _Counts, client: Any = None, head: Any = None) -> None:
    bar = tqdm(total=n_todo, unit="tile", desc=f"s2sr apply {job.src.name}", disable=not opts.progress,
               dynamic_ncols=True)

    def on_tile(res: TileResult) -> None:
        counts.skipped += res.data is None
        bar.update(1)

    try:
        if client is not None:
            from s2sr.infer.dask_runner import run_dask  # distributed: only for --dask

            run_dask(client, job, todo, lm.as_dict(), lm.fingerprint, opts.precision, sink, on_tile,
                     opts.uncertainty_level if head is not None else None)
        else:
            from s2sr.infer.local import run_local

            predictor = lm.predictor(opts.precision, opts.threads)
            if head is not None:
                from s2sr.infer.uncertainty import WithUncertainty

                predictor = WithUncertainty(predictor, head, lm.bundle.mean, lm.bundle.std, opts.uncertainty_level,
                                            job.plan.margin)
            run_local(job, todo, _timed(predictor, counts), sink, on_tile, opts.queue_depth)
    finally:
        bar.close()


def _timed(predictor: Predictor, counts: _Counts) -> Predictor:
    def run(x: np.ndarray) -> np.ndarray:
        t = time.perf_counter()
        y = predictor(x)
        counts.model_s += time.perf_counter() - t
        return y

    return run


def _run_header(lm: LoadedModel, src: Path, plan: TilePlan, bands: list[int], spec: OutputSpec,
                opts: ApplyConfig) -> dict[str, Any]:
    st = src.stat()
    r = plan.region
    return {
        "model": lm.fingerprint, "src": str(src.resolve()), "src_size": st.st_size, "src_mtime": st.st_mtime_ns,
        "region": [r.col_off, r.row_off, r.width, r.height], "tile": plan.tile, "overlap": plan.overlap,
        "margin": plan.margin, "bands": bands, "spec": asdict(spec), "precision": opts.precision,
        "backend": opts.backend, "edge": opts.edge,
    }


def _out_meta(lm: LoadedModel, src: Path, info: RasterInfo, plan: TilePlan, opts: ApplyConfig) -> dict[str, Any]:
    """Georeferencing and metadata of the output (the fine grid of the region)."""
    r = plan.region
    lr = Grid(window_transform(r, info.grid.transform), int(r.width), int(r.height))
    tags = {
        "S2SR_MODEL": lm.name, "S2SR_ARCH": lm.arch, "S2SR_SCALE": str(lm.scale),
        "S2SR_MODEL_VERSION": lm.version, "S2SR_VERSION": __version__, "S2SR_INPUT": src.name,
        "S2SR_WINDOW": f"{r.col_off},{r.row_off},{r.width},{r.height}", "S2SR_BACKEND": opts.backend,
        "S2SR_PRECISION": opts.precision,
    }
    return {"transform": fine_grid(lr, lm.scale).transform, "crs": info.crs, "descriptions": lm.bands,
            "tags": tags}
