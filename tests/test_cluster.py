"""``s2sr.cluster.setup_worker``: what a Dask worker process sets once before its first tile."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CHILD = """
import resource, sys
import numpy as np
if sys.argv[1] == "setup":
    from s2sr.cluster import setup_worker
    setup_worker()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
np.ones(2 << 20)  # 16 MB, once
before = faults()
for _ in range(20):
    a = np.ones(2 << 20)  # 16 MB allocated, touched and freed 20 times
    del a
print(faults() - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_worker_reuses_freed_arrays_under_a_dask_nanny_environment() -> None:
    """A Dask nanny starts workers with MALLOC_TRIM_THRESHOLD_ set, which fixes glibc's mmap threshold at
    128 KiB: each large array is then a fresh mmap whose pages fault in again (16 MB: up to 4096 faults per
    array, fewer with transparent huge pages). After setup_worker, freed arrays are reused from the heap."""
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536"}

    def faults(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", CHILD, mode], env=env, capture_output=True, text=True, check=True)
        return int(out.stdout.strip())

    plain, tuned = faults("plain"), faults("setup")
    assert plain > 20 * 200, plain  # the slow path this guards against is really there (10400 here)
    assert tuned < plain / 20, (tuned, plain)  # 0 here


def test_local_cluster_client_fetches_results_from_the_workers_directly() -> None:
    """Results go worker -> client, not worker -> scheduler -> client (every tile's bytes twice)."""
    from s2sr.cluster import dask_client

    with dask_client("local:1") as client:
        assert client.direct_to_workers is True
        fut = client.submit(sum, [1, 2, 3])
        assert fut.result() == 6
