"""A Dask client for ``--dask ADDRESS`` (``apply`` and ``prepare``): a scheduler address or ``local:N``.

``local:N`` starts a :class:`distributed.LocalCluster` of N single-threaded worker processes
on this machine; ``tcp://host:8786`` connects to a running scheduler (see docs/scale-out.md).
"""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from s2sr import glibc
from s2sr.errors import ConfigError

DISTRIBUTED_LOGGERS = ("distributed", "distributed.nanny", "distributed.worker", "distributed.scheduler")


# glibc: allocations of at least the mmap threshold get their own mmap; free memory at the top of the
# heap beyond the trim threshold goes back to the OS. The values are where glibc's own adaptive
# thresholds end up (mmap 32 MiB, trim twice that).
MMAP_THRESHOLD, TRIM_THRESHOLD = 32 << 20, 64 << 20


@functools.cache
def setup_worker() -> None:
    """Once in a worker process, before its first task (later calls do nothing).

    - rasterio's NotGeoreferencedWarning is silenced: s2sr handles pixel grids without CRS itself (the
      client said so once), and the warning would print from every worker into the client's progress bar.
    - glibc's mmap and trim thresholds are set to 32 and 64 MiB. A Dask nanny starts its workers with
      ``MALLOC_TRIM_THRESHOLD_=65536``, and setting it turns off glibc's adaptive thresholds: every
      array over 128 KiB (a model's feature maps, a tile's output) was then a fresh ``mmap``, or heap
      given back at once, whose pages fault in again on first touch; the model call ran 1.4-1.8x
      slower than in a plain process (docs/apply.md). The values are those the adaptive thresholds
      reach in a plain process; a worker's memory stays bounded by its largest tile's working set.
    """
    from rasterio.errors import NotGeoreferencedWarning

    warnings.filterwarnings("ignore", category=NotGeoreferencedWarning)
    glibc.mallopt(glibc.M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    glibc.mallopt(glibc.M_TRIM_THRESHOLD, TRIM_THRESHOLD)


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
    ``distributed.comm.timeouts.connect`` setting (e.g. ``DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=5s``).

    The client fetches results straight from the workers (``direct_to_workers``): by default Dask
    routes them through the scheduler, which doubled every tile's bytes on the wire (measured with
    ``local:2``: client CPU 5.0-5.7 -> 3.9-4.6 s and the run 7.8-8.7 -> 6.4-7.0 s for 67 output Mpx)."""
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
                               dashboard_address=":0", silence_logs=logging.ERROR)
        return Client(cluster, direct_to_workers=True), cluster
    try:
        return Client(address, timeout=dask.config.get("distributed.comm.timeouts.connect"), direct_to_workers=True), None
    except OSError as e:
        raise ConfigError(f"--dask {address!r}: cannot reach the scheduler ({e}); check the address") from None
