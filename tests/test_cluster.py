"""``s2sr.cluster.setup_worker``: what a Dask worker process sets once before its first tile."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CHILD = """
import ctypes, sys
import numpy as np
if sys.argv[1] == "setup":
    from s2sr.cluster import setup_worker
    setup_worker()

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                "fsmblks", "uordblks", "fordblks", "keepcost")]

from s2sr.glibc import libc
lib = libc()
lib.mallinfo2.restype = MallInfo2
a = np.ones(2 << 20)  # 16 MB
print(lib.mallinfo2().hblkhd)  # bytes held in separately mmapped blocks while it lives
"""


def _glibc_has_mallinfo2() -> bool:
    from s2sr.glibc import libc

    lib = libc()
    return lib is not None and hasattr(lib, "mallinfo2")


@pytest.mark.skipif(not _glibc_has_mallinfo2(), reason="glibc >= 2.33 (mallopt, mallinfo2): Linux only")
def test_worker_arrays_come_from_the_heap_under_a_dask_nanny_environment() -> None:
    """A Dask nanny starts workers with MALLOC_TRIM_THRESHOLD_ set, which fixes glibc's mmap threshold at
    128 KiB: each large array is then a fresh mmap whose pages fault in again on first touch (the model
    call ran 1.4-1.8x slower; page-fault counts depend on transparent huge pages, so the test reads
    glibc's own accounting). After setup_worker, a 16 MB array comes from the heap, where freed
    memory is reused."""
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536"}

    def mmapped(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", CHILD, mode], env=env, capture_output=True, text=True, check=True)
        return int(out.stdout.strip())

    assert mmapped("plain") >= 16 << 20  # the slow path this guards against is really there
    assert mmapped("setup") < 16 << 20


def test_local_cluster_client_fetches_results_from_the_workers_directly() -> None:
    """Results go worker -> client, not worker -> scheduler -> client (every tile's bytes twice)."""
    from s2sr.cluster import dask_client

    with dask_client("local:1") as client:
        assert client.direct_to_workers is True
        fut = client.submit(sum, [1, 2, 3])
        assert fut.result() == 6
