"""Local streaming: a reader thread and a pool of tile workers sharing the CPU thread budget.

The reader fills a bounded queue (``depth`` tiles) with tile inputs. Each of ``workers``
threads takes inputs (up to ``batch`` at a time), runs the model and, unless ``post``
threads are given, hands the result to the sink itself: weights, output values, block
pasting and the encoding of every block the tile completes all happen in the worker
that produced it, so on a CPU all cores run model and encoder work side by side and none
waits for another stage. With ``post`` threads (a GPU run: one worker feeds the device in
batches) the results go through a second bounded queue to ``post`` CPU threads instead,
so the device never waits for encoding. The first error in any thread stops all of them
and is re-raised on the calling thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from s2sr.infer.sink import PieceSink, TileParts
from s2sr.infer.tilework import Predictor, TileJob, TileResult, predict_tiles, read_tile
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
        """The next item, or ``_DONE`` (put back for the other consumers) at the end or on stop."""
        while not self.stop.is_set():
            try:
                item = q.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is _DONE:
                self.put(q, _DONE)
            return item
        return _DONE

    def run(self, target: Callable[..., None], *args: Any) -> None:
        try:
            target(*args)
        except BaseException as e:  # noqa: BLE001 - handed to the calling thread and re-raised there
            self.fail(e)


def _reader(stage: _Stage, job: TileJob, tiles: Iterable[Tile], out: queue.Queue[Any]) -> None:
    with open_raster(job.src) as ds:
        for t in tiles:
            if not stage.put(out, read_tile(ds, job, t)):
                return
    stage.put(out, _DONE)


def _take(stage: _Stage, q: queue.Queue[Any], n: int) -> Iterator[list[Any]]:
    """Batches of up to ``n`` items: the first waited for, the others only if already queued."""
    while True:
        item = stage.get(q)
        if item is _DONE:
            return
        batch = [item]
        while len(batch) < n:
            try:
                nxt = q.get_nowait()
            except queue.Empty:
                break
            if nxt is _DONE:
                stage.put(q, _DONE)
                break
            batch.append(nxt)
        yield batch


def run_local(job: TileJob, tiles: Iterable[Tile], predictor: Predictor, sink: PieceSink,
              on_tile: Callable[[TileParts], None], depth: int = 4, workers: int = 1, post: int = 0,
              batch: int = 1) -> None:
    """Compute ``tiles`` and hand them to ``sink``; returns when all blocks are written and synced."""
    stage = _Stage()
    q_in: queue.Queue[Any] = queue.Queue(maxsize=max(depth, workers * batch))
    q_res: queue.Queue[Any] = queue.Queue(maxsize=max(depth, post))
    report = threading.Lock()

    def handle(res: TileResult) -> None:
        parts = sink.add(res)
        with report:
            on_tile(parts)

    def model() -> None:
        for tins in _take(stage, q_in, batch):
            for res in predict_tiles(predictor, job, tins):
                if post:
                    if not stage.put(q_res, res):
                        return
                else:
                    handle(res)

    def finish() -> None:
        for (res,) in _take(stage, q_res, 1):
            handle(res)

    models = [threading.Thread(target=stage.run, args=(model,), name=f"s2sr-model-{i}", daemon=True)
              for i in range(workers)]
    posts = [threading.Thread(target=stage.run, args=(finish,), name=f"s2sr-post-{i}", daemon=True)
             for i in range(post)]
    reader = threading.Thread(target=stage.run, args=(_reader, stage, job, tiles, q_in), name="s2sr-read",
                              daemon=True)
    threads = [reader, *models, *posts]
    for th in threads:
        th.start()
    try:
        for th in models:
            th.join()
        if post:
            stage.put(q_res, _DONE)
        for th in threads:
            th.join()
    except BaseException as e:  # KeyboardInterrupt while waiting: stop the threads, then re-raise
        stage.fail(e)
        for th in threads:
            th.join()
    if stage.error is not None:
        raise stage.error
    sink.sync()
