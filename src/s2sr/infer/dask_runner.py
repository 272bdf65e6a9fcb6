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
import warnings
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
DISTRIBUTED_LOGGERS = ("distributed", "distributed.nanny", "distributed.worker", "distributed.scheduler")


def _quiet_worker() -> None:
    """In a worker process: s2sr handles pixel grids without CRS itself (the client said so once); rasterio's
    NotGeoreferencedWarning would print from every worker into the client's progress bar."""
    from rasterio.errors import NotGeoreferencedWarning

    warnings.filterwarnings("ignore", category=NotGeoreferencedWarning)


def _worker_predictor(model: dict[str, Any], key: str, precision: str) -> Any:
    """Build (once per worker process) the torch predictor for ``model``."""
    if key not in _CACHE:  # threads: Dask's nanny starts workers with OMP_NUM_THREADS=1
        _quiet_worker()
        from s2sr.bundle import bundle_from_dict
        from s2sr.infer.backends import TorchPredictor

        _CACHE.clear()
        _CACHE[key] = TorchPredictor(bundle_from_dict(model, path=key), precision)
    return _CACHE[key]


def dask_tile(model: dict[str, Any], key: str, precision: str, job: TileJob, t: Tile) -> TileResult:
    """Worker task: read and predict one tile."""
    predictor = _worker_predictor(model, key, precision)
    with open_raster(job.src) as ds:
        tin = read_tile(ds, job, t)
    return predict_tile(predictor, job, tin)


@contextmanager
def dask_client(address: str) -> Iterator[Any]:
    """A connected :class:`distributed.Client` for ``address``, closed (with its local cluster) on exit."""
    with _quiet_distributed():
        client, cluster = connect(address)
        try:
            yield client
        finally:
            client.close()
            if cluster is not None:
                cluster.close(timeout=30)  # time for the workers to exit on their own


@contextmanager
def _quiet_distributed() -> Iterator[None]:
    """Dask's own INFO/WARNING chatter stays out of s2sr's stderr (start-up banners, and at close "Worker process
    still alive after 4.0 seconds, killing", which only says a worker took long to exit); errors still show."""
    loggers = [logging.getLogger(n) for n in DISTRIBUTED_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, lvl in zip(loggers, levels, strict=True):
            lg.setLevel(lvl)


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
             precision: str, sink: PieceSink, on_tile: Callable[[TileResult], None]) -> None:
    """Compute ``tiles`` on the cluster of ``client``; results are fed to ``sink`` as they complete."""
    from distributed import as_completed

    nworkers = max(1, len(client.scheduler_info().get("workers", {})))
    model_f = client.scatter(model, broadcast=True)
    todo = iter(tiles)
    window = 2 * nworkers + 2

    def submit(t: Tile) -> Any:
        return client.submit(dask_tile, model_f, model_key, precision, job, t, pure=False)

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
