"""Local streaming: a reader thread, the model on the calling thread, a writer thread.

Bounded queues (``depth`` tiles each) keep memory at a few tiles while reading
and writing hide behind the model. The first error in any stage stops all three
and is re-raised on the calling thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from s2sr.infer.sink import PieceSink
from s2sr.infer.tilework import Predictor, TileInput, TileJob, TileResult, predict_tile, read_tile
from s2sr.infer.tiling import Tile
from s2sr.io.raster import open_raster

_DONE = object()


class _Stage:
    """Shared stop flag and first error of a set of pipeline threads."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def fail(self, e: BaseException) -> None:
        if self.error is None:
            self.error = e
        self.stop.set()

    def put(self, q: queue.Queue[Any], item: Any) -> bool:
        while not self.stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def get(self, q: queue.Queue[Any]) -> Any:
        while not self.stop.is_set():
            try:
                return q.get(timeout=0.1)
            except queue.Empty:
                continue
        return _DONE


def _reader(stage: _Stage, job: TileJob, tiles: Iterable[Tile], out: queue.Queue[Any]) -> None:
    try:
        with open_raster(job.src) as ds:
            for t in tiles:
                if not stage.put(out, read_tile(ds, job, t)):
                    return
        stage.put(out, _DONE)
    except BaseException as e:  # noqa: BLE001 - handed to the calling thread and re-raised there
        stage.fail(e)


def _writer(stage: _Stage, sink: PieceSink, inq: queue.Queue[Any], on_tile: Callable[[TileResult], None]) -> None:
    try:
        while True:
            item = stage.get(inq)
            if item is _DONE:
                break
            sink.add(item)
            on_tile(item)
        if not stage.stop.is_set():
            sink.sync()
    except BaseException as e:  # noqa: BLE001 - handed to the calling thread and re-raised there
        stage.fail(e)


def _inputs(stage: _Stage, q: queue.Queue[Any]) -> Iterator[TileInput]:
    while True:
        item = stage.get(q)
        if item is _DONE:
            return
        yield item


def run_local(job: TileJob, tiles: Iterable[Tile], predictor: Predictor, sink: PieceSink,
              on_tile: Callable[[TileResult], None], depth: int = 4) -> None:
    """Compute ``tiles`` and hand them to ``sink``; returns when all pieces are written and synced."""
    stage = _Stage()
    q_in: queue.Queue[Any] = queue.Queue(maxsize=depth)
    q_out: queue.Queue[Any] = queue.Queue(maxsize=depth)
    threads = [
        threading.Thread(target=_reader, args=(stage, job, tiles, q_in), name="s2sr-read", daemon=True),
        threading.Thread(target=_writer, args=(stage, sink, q_out, on_tile), name="s2sr-write", daemon=True),
    ]
    for th in threads:
        th.start()
    try:
        for tin in _inputs(stage, q_in):
            if not stage.put(q_out, predict_tile(predictor, job, tin)):
                break
        stage.put(q_out, _DONE)
    except BaseException as e:
        stage.fail(e)
    finally:
        if stage.error is not None:
            stage.stop.set()
        for th in threads:
            th.join()
    if stage.error is not None:
        raise stage.error
