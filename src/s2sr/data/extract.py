"""Patch extraction for ``prepare``: chunks of blocks in, accepted patches out, locally or on Dask.

A :class:`Chunk` is a few blocks of one pair with everything needed to cut them (the pair,
its shift and harmonisation, the config): :func:`extract` opens the pair's readers, reads
block by block (bounded memory), rejects bad patches and returns the rest in block order.
:func:`extract_all` runs the chunks here or as Dask tasks (``--dask``; the workers read the
inputs at the same paths) and yields the results in chunk order either way, so the store
is the same file, byte for byte, wherever the chunks ran.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from s2sr.data.config import PrepareConfig
from s2sr.data.harmonise import Harmonisation
from s2sr.data.pairs import Pair, hr_reader, lr_reader
from s2sr.data.sampling import Block, reject_reason
from s2sr.sensor import SensorModel

CHUNK_BLOCKS = 16  # blocks per task: amortises opening the readers, keeps results small


@dataclass
class Chunk:
    pair: Pair
    blocks: list[Block]
    shift: tuple[float, float]
    harm: Harmonisation
    cfg: PrepareConfig
    sensor: SensorModel


@dataclass
class Extracted:
    """Accepted patches (LR row, col, split, lr, hr) in block order, and the rejections."""

    patches: list[tuple[int, int, str, np.ndarray, np.ndarray]] = field(default_factory=list)
    rejects: Counter[str] = field(default_factory=Counter)
    blocks: int = 0


def chunks(pairs: list[Pair], blocks: dict[int, list[Block]], shifts: dict[int, tuple[float, float]],
           harms: dict[int, Harmonisation], cfg: PrepareConfig, sensor: SensorModel) -> Iterator[Chunk]:
    """The blocks with patches, pair by pair, :data:`CHUNK_BLOCKS` at a time."""
    for pair in pairs:
        todo = iter([b for b in blocks[pair.index] if b.patches])
        while part := list(itertools.islice(todo, CHUNK_BLOCKS)):
            yield Chunk(pair, part, shifts[pair.index], harms[pair.index], cfg, sensor)


def extract_blocks(chunk: Chunk) -> Iterator[Extracted]:
    """Read the chunk's blocks one by one (readers opened once), reject bad patches; one
    :class:`Extracted` per block, so a local run holds one block's patches at a time."""
    p, s, cfg = chunk.cfg.patch_size, chunk.cfg.scale, chunk.cfg
    with lr_reader(chunk.pair, chunk.sensor) as lr, hr_reader(chunk.pair, chunk.shift) as hr:
        for b in chunk.blocks:
            out = Extracted(blocks=1)
            lr_data, lr_ok = lr.read(b.window)
            hr_data, hr_ok = hr.read(b.window)
            hr_data = chunk.harm.apply(hr_data)
            r0, c0 = int(b.window.row_off), int(b.window.col_off)
            for row, col in b.patches:
                i, j = row - r0, col - c0
                lp, lo = lr_data[:, i:i + p, j:j + p], lr_ok[i:i + p, j:j + p]
                hp = hr_data[:, i * s:(i + p) * s, j * s:(j + p) * s]
                ho = hr_ok[i * s:(i + p) * s, j * s:(j + p) * s]
                why = reject_reason(lp, lo, ho, cfg)
                if why:
                    out.rejects[why] += 1
                    continue
                out.patches.append((row, col, str(b.split), lp.copy(), hp.copy()))
            yield out


def extract(chunk: Chunk) -> Extracted:
    """Read the chunk's blocks, reject bad patches, return the others (a Dask task: the worker process is
    set up first, :func:`s2sr.cluster.setup_worker`)."""
    from s2sr.cluster import setup_worker

    setup_worker()
    out = Extracted()
    for part in extract_blocks(chunk):
        out.patches += part.patches
        out.rejects.update(part.rejects)
        out.blocks += part.blocks
    return out


def extract_all(todo: Iterable[Chunk], client: Any = None) -> Iterator[tuple[Chunk, Extracted]]:
    """``(chunk, extracted)`` in order: here, one block at a time (:func:`extract_blocks`); with a Dask
    ``client``, one whole chunk per task (:func:`extract`) with at most ``2 * threads + 2`` chunks in flight."""
    if client is None:
        for c in todo:
            for got in extract_blocks(c):
                yield c, got
        return
    workers = client.scheduler_info().get("workers", {})
    window = 2 * max(1, sum(int(w.get("nthreads", 1)) for w in workers.values())) + 2
    it = iter(todo)
    flight = [(c, client.submit(extract, c, pure=False)) for c in itertools.islice(it, window)]
    while flight:
        c, fut = flight.pop(0)
        res = fut.result()
        fut.release()
        nxt = next(it, None)
        if nxt is not None:
            flight.append((nxt, client.submit(extract, nxt, pure=False)))
        yield c, res
