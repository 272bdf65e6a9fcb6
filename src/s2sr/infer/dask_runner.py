"""Tile-parallel apply on a Dask cluster: workers read and predict tiles, the client writes pieces.

``address`` is a scheduler address (``tcp://host:8786``) or ``local:N`` for a
:class:`distributed.LocalCluster` of N single-threaded worker processes. The
workers need the input path (a shared filesystem for remote clusters); the model
travels to them once as a plain dict. At most ``2 * workers + 2`` tiles are in
flight, submitted in row-major order, so the client never holds the whole output.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from s2sr.errors import ConfigError
from s2sr.infer.sink import PieceSink
from s2sr.infer.tilework import TileJob, TileResult, predict_tile, read_tile
from s2sr.infer.tiling import Tile
from s2sr.io.raster import open_raster

log = logging.getLogger(__name__)

_CACHE: dict[str, Any] = {}


def _worker_predictor(model: dict[str, Any], key: str, precision: str, uncertainty: float | None = None,
                      margin: int = 0) -> Any:
    """Build (once per worker process) the torch predictor for ``model`` (plus its uncertainty head at
    level ``uncertainty``, see :mod:`s2sr.infer.uncertainty`)."""
    ckey = f"{key}:{precision}:{uncertainty}:{margin}"
    if ckey not in _CACHE:  # threads: Dask's nanny starts workers with OMP_NUM_THREADS=1
        from s2sr.bundle import bundle_from_dict
        from s2sr.infer.backends import TorchPredictor
        from s2sr.infer.uncertainty import worker_predictor

        _CACHE.clear()
        bundle = bundle_from_dict(model, path=key)
        _CACHE[ckey] = worker_predictor(TorchPredictor(bundle, precision), bundle, uncertainty, margin)
    return _CACHE[ckey]


def dask_tile(model: dict[str, Any], key: str, precision: str, job: TileJob, t: Tile,
              uncertainty: float | None = None) -> TileResult:
    """Worker task: read and predict one tile."""
    predictor = _worker_predictor(model, key, precision, uncertainty, job.plan.margin)
    with open_raster(job.src) as ds:
        tin = read_tile(ds, job, t)
    return predict_tile(predictor, job, tin)


@contextmanager
def dask_client(address: str) -> Iterator[Any]:
    """A connected :class:`distributed.Client` for ``address``, closed (with its local cluster) on exit."""
    client, cluster = connect(address)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def connect(address: str) -> tuple[Any, Any]:
    """(client, cluster or None) for ``address``; the connect timeout is Dask's own
    ``distributed.comm.timeouts.connect`` setting (e.g. ``DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=5s``)."""
    import dask.config
    from distributed import Client, LocalCluster

    if address.startswith("local:"):
        try:
            n = int(address.split(":", 1)[1])
        except ValueError:
            n = 0
        if n < 1:
            raise ConfigError(f"--dask {address!r}: expected local:N with N >= 1 workers, e.g. local:2")
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        return Client(cluster), cluster
    try:
        return Client(address, timeout=dask.config.get("distributed.comm.timeouts.connect")), None
    except OSError as e:
        raise ConfigError(f"--dask {address!r}: cannot reach the scheduler ({e}); check the address") from None


def run_dask(client: Any, job: TileJob, tiles: Iterable[Tile], model: dict[str, Any], model_key: str,
             precision: str, sink: PieceSink, on_tile: Callable[[TileResult], None],
             uncertainty: float | None = None) -> None:
    """Compute ``tiles`` on the cluster of ``client``; results are fed to ``sink`` as they complete
    (``uncertainty``: also the half-widths at that level, see :mod:`s2sr.infer.uncertainty`)."""
    from distributed import as_completed

    nworkers = max(1, len(client.scheduler_info().get("workers", {})))
    model_f = client.scatter(model, broadcast=True)
    todo = iter(tiles)
    window = 2 * nworkers + 2

    def submit(t: Tile) -> Any:
        return client.submit(dask_tile, model_f, model_key, precision, job, t, uncertainty, pure=False)

    ac = as_completed([submit(t) for t in itertools.islice(todo, window)])
    for fut in ac:
        res = fut.result()
        fut.release()
        sink.add(res)
        on_tile(res)
        nxt = next(todo, None)
        if nxt is not None:
            ac.add(submit(nxt))
    sink.sync()
