"""The tile plan is lazy: memory does not grow with the scene (issue 11, item 15)."""

from __future__ import annotations

import itertools
import tracemalloc

from s2sr.infer.journal import PieceSet
from s2sr.infer.tiling import make_plan


def test_plan_of_a_200000_px_scene_allocates_no_per_tile_lists() -> None:
    """A 200000 px square input used 3 GiB for its plan before the first tile; now a few MB."""
    tracemalloc.start()
    try:
        plan = make_plan(200_000, 200_000, 4, tile=128, overlap=16, margin=8)
        n_tiles, n_pieces = plan.n_tiles, len(plan.pieces)
        done = PieceSet(n_pieces)  # what a resume journal holds: one bit per piece
        first = list(itertools.islice(plan.todo(done), 5))
        last_piece = plan.pieces[n_pieces - 1]
        touched = plan.pieces_of(plan.tiles[n_tiles - 1])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n_tiles == 1563 ** 2 and n_pieces == (2 * 1563 - 1) ** 2
    assert first == [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4)]
    assert last_piece.index == n_pieces - 1 and touched[-1] == n_pieces - 1
    assert peak < 8 * 2**20, f"plan peak {peak / 2**20:.1f} MiB"


def test_lazy_plan_matches_the_explicit_construction() -> None:
    """Pieces and the tiles' pieces by index arithmetic equal the product of the axis segments."""
    plan = make_plan(300, 200, 2, tile=64, overlap=8, margin=4)
    pieces = [(rs, cs) for rs in plan.y.segments for cs in plan.x.segments]
    assert len(plan.pieces) == len(pieces)
    for i, p in enumerate(plan.pieces):
        assert (p.index, p.row, p.col) == (i, *pieces[i])
    for t in plan.tiles:
        assert plan.pieces_of(t) == tuple(i for i, p in enumerate(plan.pieces) if t in p.tiles)
    done = PieceSet(len(plan.pieces))
    done.update(plan.pieces_of((0, 0)))
    assert (0, 0) not in list(plan.todo(done)) and len(list(plan.todo(done))) == plan.n_tiles - 1
