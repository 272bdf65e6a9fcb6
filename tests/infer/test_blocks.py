"""Output blocks: piece counts from the plan, 2x2 halving with nodata, and the pyramid completing every block."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from s2sr.infer.blocks import BlockGrid, Pyramid, halve, piece_counts
from s2sr.infer.tiling import make_plan
from s2sr.io.tiffcodec import TileCodec, decode_tile


@pytest.mark.parametrize("size,scale,tile,overlap", [((700, 450), 4, 64, 16), ((300, 301), 2, 37, 6),
                                                      ((129, 128), 4, 128, 16), ((90, 50), 3, 11, 4)])
def test_piece_counts_match_the_pieces_over_each_block(size, scale, tile, overlap):
    plan = make_plan(size[0], size[1], scale, tile, overlap, 5)
    w, h = plan.out_size
    grid = BlockGrid(w, h, 4, "uint16", 0)
    cy, cx = piece_counts(plan, grid)
    brute = np.zeros(grid.shapes[0], np.int64)
    for p in plan.pieces:
        win = p.window()
        r0, c0 = int(win.row_off) * scale, int(win.col_off) * scale
        r1, c1 = r0 + int(win.height) * scale, c0 + int(win.width) * scale
        brute[r0 // 512:(r1 - 1) // 512 + 1, c0 // 512:(c1 - 1) // 512 + 1] += 1
    assert np.array_equal(np.outer(cy, cx), brute)


def test_halve_averages_2x2_rounds_half_up_and_ignores_nodata():
    a = np.array([[1, 2, 7], [3, 4, 0], [0, 0, 9]], np.uint16)[:, :, None]
    out = halve(a, nodata=0)
    # (1+2+3+4)/4 = 2.5 -> 3; (7)/1 (the 0 is nodata, the odd column counts once) -> 7; bottom row: 0 0 -> nodata, 9
    assert out[:, :, 0].tolist() == [[3, 7], [0, 9]]
    assert halve(a, nodata=None)[:, :, 0].tolist() == [[3, 4], [0, 9]]  # (7+7+0+0)/4 = 3.5 -> 4
    ones = np.ones((2, 2, 1), np.uint16)
    assert halve(ones, nodata=1)[0, 0, 0] == 1  # all nodata: nodata
    near = np.array([[2, 0], [0, 0]], np.uint16)[:, :, None]
    assert halve(near, nodata=1)[0, 0, 0] == 2  # a valid mean never becomes nodata: (2+0+0+0)/4 -> 1 -> 2


def test_halve_floats_with_nan_nodata():
    a = np.array([[1.0, np.nan], [3.0, np.nan]], np.float32)[:, :, None]
    assert halve(a, None)[0, 0, 0] == 2.0
    assert np.isnan(halve(np.full((2, 2, 1), np.nan, np.float32), None)[0, 0, 0])


@pytest.mark.parametrize("order", ["rowmajor", "reversed", "shuffled"])
def test_pyramid_emits_every_block_once_whatever_the_piece_order(order):
    plan = make_plan(400, 300, 4, 48, 8, 3)
    w, h = plan.out_size
    grid = BlockGrid(w, h, 2, "uint16", None)
    emitted: dict[int, bytes] = {}

    def emit(bid: int, data: bytes) -> None:
        assert bid not in emitted
        emitted[bid] = data

    codec = TileCodec("ZSTD", "uint16")
    pyr = Pyramid(grid, codec, piece_counts(plan, grid), emit)
    image = (np.arange(h)[:, None] * 3 + np.arange(w)[None] % 1000).astype(np.uint16)
    pieces = list(plan.pieces)
    if order == "reversed":
        pieces.reverse()
    elif order == "shuffled":
        np.random.default_rng(0).shuffle(pieces)
    for p in pieces:
        win = p.window()
        r0, c0, ph, pw = (int(v) * 4 for v in (win.row_off, win.col_off, win.height, win.width))
        pyr.put(r0, c0, np.stack([image[r0:r0 + ph, c0:c0 + pw]] * 2))
    assert sorted(emitted) == list(range(grid.n_blocks)) and pyr.open == {}
    full = np.zeros((grid.shapes[0][0] * 512, grid.shapes[0][1] * 512), np.uint16)
    for bi, bj in itertools.product(*(range(n) for n in grid.shapes[0])):
        full[bi * 512:(bi + 1) * 512, bj * 512:(bj + 1) * 512] = decode_tile(emitted[grid.id(0, bi, bj)],
                                                                             (512, 512, 2), codec)[:, :, 0]
    assert np.array_equal(full[:h, :w], image)
    top = decode_tile(emitted[grid.n_blocks - 1], (512, 512, 2), codec)
    lw, lh = grid.sizes[-1]
    ref = image[:, :, None]
    for _ in range(grid.n_levels - 1):
        ref = halve(ref, None)
    assert np.array_equal(top[:lh, :lw, :1], ref)
