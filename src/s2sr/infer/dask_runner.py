"""Tile-parallel apply on a Dask cluster: workers read, predict and finish tiles, the client
sums the overlap zones and encodes the output blocks.

``address`` is a scheduler address (``tcp://host:8786``) or ``local:N`` for a
:class:`distributed.LocalCluster` of N single-threaded worker processes. The
workers need the input path (a shared filesystem for remote clusters); the model
travels to them once as a plain dict. A worker returns its tile already split into
pieces (:func:`s2sr.infer.sink.tile_parts`): final output values where one tile covers
the output, weighted float contributions in the overlap zones, so the client only
pastes, sums and encodes. Each task runs the model on one thread (torch intra-op threads
1), so a worker uses as many cores as it has Dask threads (``--nthreads``): give each
worker its machine's cores, and no core is oversubscribed. At most
``2 * threads + 2`` tiles are in flight (threads: all worker threads of the cluster),
submitted in row-major order, so no process holds the whole output.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from s2sr.cluster import setup_worker
from s2sr.infer.sink import PieceSink, TileParts, tile_parts
from s2sr.infer.tilework import Predictor, TileJob, predict_tile, read_tile
from s2sr.infer.tiling import Tile
from s2sr.io.raster import open_raster
from s2sr.io.values import OutputSpec

log = logging.getLogger(__name__)

_CACHE: dict[str, Any] = {}
_LOCK = threading.Lock()


def _worker_predictor(model: dict[str, Any], key: str, precision: str, level: float | None = None,
                      margin: int = 0, safe: float | None = None, keep_half_widths: bool = True) -> Any:
    """Build (once per worker process) the torch predictor for ``model``, one thread per task (plus its
    uncertainty head at ``level``, see :mod:`s2sr.infer.uncertainty`, and with ``safe`` the safe SR of
    that strength, see :mod:`s2sr.infer.safe`)."""
    ckey = f"{key}:{precision}:{level}:{margin}:{safe}:{keep_half_widths}"
    with _LOCK:
        if ckey not in _CACHE:
            setup_worker()
            from s2sr.bundle import bundle_from_dict
            from s2sr.infer.backends import TorchPredictor

            _CACHE.clear()
            bundle = bundle_from_dict(model, path=key)
            predictor: Predictor = TorchPredictor(bundle, precision, threads=1)
            if level is not None:
                from s2sr.infer.uncertainty import with_head

                predictor = with_head(predictor, bundle, level, margin, safe, keep_half_widths)
            _CACHE[ckey] = predictor
        return _CACHE[ckey]


def dask_tile(model: dict[str, Any], key: str, precision: str, job: TileJob, spec: OutputSpec,
              t: Tile, level: float | None = None, safe: float | None = None, outputs: int = 1) -> list[TileParts]:
    """Worker task: read, predict and split one tile into its pieces, one :class:`TileParts` per output
    (the SR, or with ``safe`` the safe SR; with 2 ``outputs``, then the half-widths at ``level``)."""
    predictor = _worker_predictor(model, key, precision, level, job.plan.margin, safe, outputs > 1)
    with open_raster(job.src) as ds:
        tin = read_tile(ds, job, t)
    res = predict_tile(predictor, job, tin)
    n = len(job.bands)
    if outputs == 1:
        return [tile_parts(job.plan, spec, n, res)]
    from s2sr.infer.uncertainty import split_channels

    return [tile_parts(job.plan, spec, n, split_channels(res, n, k)) for k in range(outputs)]


def run_dask(client: Any, job: TileJob, tiles: Iterable[Tile], model: dict[str, Any], model_key: str,
             precision: str, sinks: list[PieceSink], on_tile: Callable[[TileParts], None],
             level: float | None = None, safe: float | None = None) -> None:
    """Compute ``tiles`` on the cluster of ``client``; results are fed to ``sinks`` as they complete: the
    SR's (the safe SR with ``safe``, a strength), then with a second sink the half-widths'. ``level``:
    the uncertainty head's level, given whenever the head is used (:func:`s2sr.infer.uncertainty.with_head`)."""
    from distributed import as_completed

    workers = client.scheduler_info().get("workers", {})
    nthreads = max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))
    model_f = client.scatter(model, broadcast=True)
    job_f = client.scatter(job, broadcast=True)
    todo = iter(tiles)
    window = 2 * nthreads + 2
    spec = sinks[0].spec

    def submit(t: Tile) -> Any:
        return client.submit(dask_tile, model_f, model_key, precision, job_f, spec, t, level, safe, len(sinks),
                             pure=False)

    ac = as_completed([submit(t) for t in itertools.islice(todo, window)])
    for fut in ac:
        parts = fut.result()
        fut.release()
        nxt = next(todo, None)
        if nxt is not None:  # keep the workers busy while this result is pasted and encoded
            ac.add(submit(nxt))
        for sink, p in zip(sinks, parts, strict=True):
            sink.add_parts(p)
        on_tile(parts[0])
    for sink in sinks:
        sink.sync()
