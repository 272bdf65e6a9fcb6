"""The thread budget of one ``apply`` run: how many tiles at once, with how many threads each.

On a CPU the budget (``--threads``, default: the cores this process may use) is split into
``workers`` tile workers of ``threads / workers`` model threads each. Each worker also does
the output work of its tiles (weights, values, block encoding), so model and encoders
never run more threads than the budget. One single-threaded worker per core is the default:
it was the fastest split measured (``benchmarks/apply.py``, "thread split"), because a
2-thread model call leaves a core idle whenever one of its threads waits and because the
output work of one tile then runs beside the model of another. On a GPU one worker feeds
the device, ``batch`` tiles at a time, and the other threads do the output work.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from s2sr.errors import ConfigError


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask, e.g. a container's or taskset's share)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Budget:
    threads: int  # CPU threads in all
    workers: int  # tiles computed at once
    model_threads: int  # intra-op threads of each model call
    post: int  # threads doing the output work apart from the workers (0: the workers do it)
    batch: int  # tiles per model call (at most)


def plan_budget(threads: int | None = None, workers: int | None = None, batch: int | None = None,
                device: str = "cpu", tiles: int | None = None) -> Budget:
    """The split of ``threads`` (default: all usable cores) for ``device``; with fewer ``tiles`` to
    compute than threads, fewer workers with more model threads each (no idle core on a small window)."""
    for name, v in (("--threads", threads), ("--workers", workers), ("--batch", batch)):
        if v is not None and v < 1:
            raise ConfigError(f"{name} {v}: must be at least 1")
    total = threads or usable_cores()
    if device.startswith("cuda"):
        w = workers or 1
        return Budget(total, w, 1, max(1, total - w), batch or 4)
    w = min(workers or min(total, max(1, tiles or total)), total)
    return Budget(total, w, max(1, total // w), 0, batch or 1)
