"""``apply --co``: s2sr writes its COG itself, so it applies the GDAL COG options its writer implements
and refuses every other one in one line (never ignores it)."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from s2sr.cli.main import main
from s2sr.errors import ConfigError
from s2sr.infer.apply import ApplyConfig, apply_model
from s2sr.io.cog import cog_problems
from s2sr.io.coglayout import CogLayout, cog_layout

Q = {"progress": False}


def test_options_change_the_file_not_the_pixels(make_raster, bicubic_pt, tmp_path):
    src = make_raster(shape=(4, 150, 140))  # 600 x 560 output: one overview by default
    ref, out = tmp_path / "ref.tif", tmp_path / "o.tif"
    apply_model(bicubic_pt, src, ref, ApplyConfig(**Q))
    co = {"compress": "deflate", "LEVEL": "6", "BIGTIFF": "YES", "OVERVIEWS": "NONE", "PREDICTOR": "YES",
          "RESAMPLING": "AVERAGE", "INTERLEAVE": "PIXEL"}
    apply_model(bicubic_pt, src, out, ApplyConfig(creation_options=co, **Q))
    assert out.read_bytes()[:4] == b"II+\0" and ref.read_bytes()[:4] == b"II*\0"  # BigTIFF only when asked
    with rasterio.open(ref) as a, rasterio.open(out) as b:
        assert a.compression.name.upper() == "ZSTD" and b.compression.name.upper() == "DEFLATE"
        assert a.overviews(1) == [2] and b.overviews(1) == []
        assert np.array_equal(a.read(), b.read()) and a.tags() != b.tags()  # S2SR_RUN differs
    assert cog_problems(ref) == []


def test_overview_count_and_block_size(make_raster, bicubic_pt, tmp_path):
    src = make_raster(shape=(4, 100, 100))  # 400 x 400 output
    out = tmp_path / "o.tif"
    assert main(["-q", "apply", str(bicubic_pt), str(src), str(out), "--co", "BLOCKSIZE=128",
                 "--co", "OVERVIEW_COUNT=3"]) == 0
    with rasterio.open(out) as ds:
        assert ds.block_shapes[0] == (128, 128) and ds.overviews(1) == [2, 4, 8]
        full = ds.read(1).astype(np.float64)
        with rasterio.open(out, overview_level=0) as ov:
            half = ov.read(1)
    want = np.floor((full[0::2, 0::2] + full[1::2, 0::2] + full[0::2, 1::2] + full[1::2, 1::2] + 2) / 4)
    np.testing.assert_array_equal(half, want)  # 2x2 average (no nodata inside this scene)
    assert cog_problems(out, blocksize=128) == []


@pytest.mark.parametrize("co, text", [
    ("COMPRESS=LZW", "--co COMPRESS=LZW: s2sr apply writes DEFLATE or ZSTD tiles; choose one of them"),
    ("NUM_THREADS=2", "--co NUM_THREADS=2: s2sr apply assembles its COG itself and takes only COMPRESS, LEVEL, "
                      "BLOCKSIZE, OVERVIEW_COUNT, OVERVIEWS, BIGTIFF, PREDICTOR, RESAMPLING, OVERVIEW_RESAMPLING, "
                      "INTERLEAVE; use --threads"),
    ("TILING_SCHEME=GoogleMapsCompatible", "--co TILING_SCHEME=GoogleMapsCompatible: s2sr apply assembles its COG "
                                           "itself and takes only COMPRESS,"),
    ("BLOCKSIZE=200", "--co BLOCKSIZE=200: TIFF tiles are a multiple of 16 pixels, e.g. 256 or 512"),
    ("PREDICTOR=NO", "--co PREDICTOR=NO: s2sr apply always writes PREDICTOR=YES; pass that or leave the option out"),
    ("RESAMPLING=NEAREST", "--co RESAMPLING=NEAREST: s2sr apply always writes RESAMPLING=AVERAGE"),
    ("LEVEL=30", "--co LEVEL=30: ZSTD takes 1..22"),
    ("OVERVIEWS=FORCE_USE_EXISTING", "--co OVERVIEWS=FORCE_USE_EXISTING: the output is new and has no overviews "
                                     "to reuse; choose AUTO or NONE"),
])
def test_unsupported_options_are_refused_in_one_line(make_raster, bicubic_pt, tmp_path, capsys, co, text):
    out = tmp_path / "o.tif"
    assert main(["-q", "apply", str(bicubic_pt), str(make_raster()), str(out), "--co", co]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith(f"s2sr apply: error: {text}")
    assert not list(tmp_path.glob("*o.tif*"))  # nothing written


def test_layout_from_options():
    assert cog_layout() == CogLayout("ZSTD", 0, 512, None, None)
    assert cog_layout("DEFLATE", 3, {"BIGTIFF": "IF_SAFER", "OVERVIEW_COUNT": "0"}) == CogLayout("DEFLATE", 3, 512, 0)
    assert cog_layout("ZSTD", 0, {"COMPRESS": "DEFLATE", "LEVEL": "9", "BIGTIFF": "no"}).bigtiff is False
    with pytest.raises(ConfigError, match="--co LEVEL=13: DEFLATE takes 1..12"):
        ApplyConfig(compress="DEFLATE", creation_options={"level": "13"})
