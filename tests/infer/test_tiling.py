"""The tile plan: pieces partition the output, weights sum to one, reads stay in the scene."""

from __future__ import annotations

import numpy as np
import pytest
from rasterio.windows import Window

from s2sr.errors import ConfigError
from s2sr.infer.tiling import make_plan, raised_cosine

CASES = [
    # scene w, h, tile, overlap, margin, scale, region
    (53, 75, 16, 4, 3, 4, None),
    (7, 5, 128, 16, 8, 4, None),  # scene smaller than one tile
    (101, 33, 32, 16, 5, 3, None),  # overlap = tile / 2
    (64, 64, 16, 0, 2, 2, None),  # no blending
    (90, 70, 20, 5, 4, 4, Window(13, 7, 41, 29)),  # window inside the scene, odd overlap
    (40, 40, 16, 4, 3, 4, Window(30, 0, 10, 40)),  # window at the right edge
]


@pytest.mark.parametrize("w,h,tile,overlap,margin,scale,region", CASES)
def test_pieces_partition_and_weights_sum_to_one(w, h, tile, overlap, margin, scale, region):
    plan = make_plan(w, h, scale, tile, overlap, margin, region)
    rw, rh = (w, h) if region is None else (int(region.width), int(region.height))
    cover = np.zeros((rh, rw), int)
    for p in plan.pieces:
        win = p.window()
        cover[win.row_off:win.row_off + win.height, win.col_off:win.col_off + win.width] += 1
        for t in p.tiles:  # every contributing tile's support contains the piece
            fp = plan.support(t)
            assert fp.row_off <= win.row_off and win.row_off + win.height <= fp.row_off + fp.height
            assert fp.col_off <= win.col_off and win.col_off + win.width <= fp.col_off + fp.width
    assert (cover == 1).all()
    wsum = np.zeros((rh * scale, rw * scale))
    for t in plan.tiles:
        fp = plan.support(t)
        wt = plan.weights(t)
        assert wt.shape == (fp.height * scale, fp.width * scale)
        wsum[fp.row_off * scale:(fp.row_off + fp.height) * scale,
             fp.col_off * scale:(fp.col_off + fp.width) * scale] += wt
        assert plan.pieces_of(t) and all(t in plan.pieces[i].tiles for i in plan.pieces_of(t))
    np.testing.assert_allclose(wsum, 1.0, atol=1e-6)
    assert plan.out_size == (rw * scale, rh * scale)


@pytest.mark.parametrize("w,h,tile,overlap,margin,scale,region", CASES)
def test_reads_stay_in_scene_and_crop_matches_support(w, h, tile, overlap, margin, scale, region):
    plan = make_plan(w, h, scale, tile, overlap, margin, region)
    for t in plan.tiles:
        rd = plan.read(t)
        win = rd.window
        assert win.col_off >= 0 and win.row_off >= 0 and win.width > 0 and win.height > 0
        assert win.col_off + win.width <= w and win.row_off + win.height <= h
        (pt, pb), (pl, pr) = rd.pad
        in_h, in_w = win.height + pt + pb, win.width + pl + pr
        ys, xs = plan.y.read_span(t[0]), plan.x.read_span(t[1])
        assert (in_h, in_w) == (ys[1] - ys[0], xs[1] - xs[0])
        # context around the support is at least the margin on every side
        fp = plan.support(t)
        assert fp.row_off - ys[0] >= margin and ys[1] - (fp.row_off + fp.height) >= margin
        sy, sx = plan.crop(t)
        assert sy.stop - sy.start == fp.height * scale and sx.stop - sx.start == fp.width * scale
        assert sy.stop <= in_h * scale and sx.stop <= in_w * scale


def test_core_sizes_are_balanced_and_inputs_nearly_uniform():
    plan = make_plan(300, 10, 4, tile=128, overlap=16, margin=8)
    assert plan.x.bounds == (0, 100, 200, 300)  # 3 cores of 100, not 128+128+44
    sizes = {plan.x.read_span(k)[1] - plan.x.read_span(k)[0] for k in range(plan.x.n)}
    assert sizes == {100 + 16 + 16}
    assert plan.shape == (1, 3)


def test_segments_and_piece_tiles():
    plan = make_plan(40, 16, 2, tile=16, overlap=4, margin=2)
    # x: cores [0,13) [13,27) [27,40), zones [11,15) and [25,29)
    assert plan.x.bounds == (0, 13, 27, 40)
    segs = [(s.lo, s.hi, s.tiles) for s in plan.x.segments]
    assert segs == [(0, 11, (0,)), (11, 15, (0, 1)), (15, 25, (1,)), (25, 29, (1, 2)), (29, 40, (2,))]
    assert plan.x.support(1) == (11, 29)
    assert plan.x.read_span(0) == (-4, 17)
    assert plan.x.scene_read(0) == (0, 17, 4, 0)
    assert plan.x.scene_read(2) == (0 + 23, 17, 0, 4)
    assert plan.tiles_for({1}) == [(0, 0), (0, 1)]


def test_raised_cosine_is_symmetric_partition():
    r = raised_cosine(9)
    np.testing.assert_allclose(r + r[::-1], 1.0, atol=1e-12)
    assert np.all(np.diff(r) > 0) and 0 < r[0] < 0.05 and 0.95 < r[-1] < 1


@pytest.mark.parametrize("kw,msg", [
    (dict(tile=16, overlap=9), "--overlap 9: must be in 0..tile/2 (8); lower --overlap or raise --tile"),
    (dict(tile=1, overlap=0), "--tile 1: must be at least 2 LR pixels; use e.g. --tile 128"),
    (dict(tile=16, overlap=4, region=Window(30, 0, 20, 5)),
     "window 30,0,20,5: not inside the 40x40 scene; pass --window/--bbox within the input"),
])
def test_invalid_plans(kw, msg):
    with pytest.raises(ConfigError) as e:
        make_plan(40, 40, 4, margin=2, **kw)
    assert str(e.value) == msg


@pytest.mark.parametrize(("margin", "tile"), [(0, 256), (10, 256), (42, 256), (60, 384), (100, 512), (400, 512)])
def test_default_tile_keeps_half_the_input_useful(margin: int, tile: int) -> None:
    from s2sr.infer.apply import ApplyConfig

    cfg = ApplyConfig()
    got = cfg.tile_for(margin)
    assert got == tile and got % 64 == 0
    if tile < 512:  # not capped: at least half of the model input is output
        assert (got / (got + cfg.overlap + 2 * margin)) ** 2 >= 0.5
