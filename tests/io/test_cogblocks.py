"""Tiles encoded by s2sr.io.tiffcodec and assembled by s2sr.io.cogblocks read back through GDAL, exactly,
and form a COG that GDAL's validator (our port) and rio-cogeo accept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.crs import CRS

from s2sr.io import cogblocks
from s2sr.io.cog import cog_problems
from s2sr.io.cogcheck import gdal_cog_errors
from s2sr.io.tiffcodec import TileCodec, decode_tile, encode_tile

B = 512
META = {"transform": Affine(2.5, 0, 400000, 0, -2.5, 5000000), "crs": CRS.from_epsg(32633),
        "descriptions": ["B2", "B3", "B4", "B8"], "tags": {"S2SR_MODEL": "m", "S2SR_SCALE": "4"}}


def _halve(a: np.ndarray) -> np.ndarray:
    c, h, w = a.shape
    p = np.pad(a.astype(np.float64), ((0, 0), (0, h % 2), (0, w % 2)), mode="edge")
    return ((p[:, 0::2, 0::2] + p[:, 1::2, 0::2] + p[:, 0::2, 1::2] + p[:, 1::2, 1::2]) / 4).astype(a.dtype)


def _write(path: Path, img: np.ndarray, codec: TileCodec, nodata: float | None = 0) -> list[np.ndarray]:
    """Encode every tile of ``img`` and its halved levels, assemble the COG; returns the levels."""
    c, h, w = img.shape
    sizes = cogblocks.level_sizes(w, h, B)
    images = [img]
    for _ in sizes[1:]:
        images.append(_halve(images[-1]))
    tiles, levels = [], []
    for im in images:
        ny, nx = -(-im.shape[1] // B), -(-im.shape[2] // B)
        enc = []
        for i in range(ny):
            for j in range(nx):
                t = np.zeros((B, B, c), img.dtype)
                sub = im[:, i * B:(i + 1) * B, j * B:(j + 1) * B].transpose(1, 2, 0)
                t[:sub.shape[0], :sub.shape[1]] = sub
                enc.append(encode_tile(t, codec))
        tiles.append(enc)
        levels.append(cogblocks.Level(im.shape[2], im.shape[1], np.array([len(e) for e in enc]).reshape(ny, nx)))
    tmpl = cogblocks.template_tags({**META, "nodata": nodata}, c, str(img.dtype))
    with open(path, "wb") as fh:
        cogblocks.write_layout(fh, levels, tmpl, codec, lambda k, i: tiles[k][i], B)
    return images


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.tobytes() == b.tobytes()  # bitwise, NaN included


@pytest.mark.parametrize("dtype,compress", [("uint16", "ZSTD"), ("uint16", "DEFLATE"), ("float32", "ZSTD"),
                                            ("float32", "DEFLATE"), ("int16", "ZSTD"), ("uint8", "DEFLATE")])
def test_assembled_cog_reads_back_exactly_through_gdal(tmp_path, dtype, compress):
    rng = np.random.default_rng(1)
    if dtype == "float32":
        img = rng.normal(0, 1, (4, 1100, 1300)).astype(dtype)
        img[:, :3, :5] = np.nan
    else:
        info = np.iinfo(dtype)
        img = rng.integers(max(info.min, -3000), min(info.max, 3000), (4, 1100, 1300)).astype(dtype)
    path = tmp_path / "o.tif"
    images = _write(path, img, TileCodec(compress, dtype))
    with rasterio.open(path) as ds:
        assert _same(ds.read(), img)
        assert ds.overviews(1) == [2, 4]  # 1300 -> 650 -> 325 (one tile)
        assert ds.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert ds.compression.name.upper() == compress
        assert ds.descriptions == ("B2", "B3", "B4", "B8") and ds.tags()["S2SR_MODEL"] == "m"
        assert ds.crs == META["crs"] and ds.transform == META["transform"] and ds.nodata == 0
    for k in (1, 2):
        with rasterio.open(path, overview_level=k - 1) as ov:
            assert _same(ov.read(), images[k])
    assert cog_problems(path) == []


def test_layout_matches_gdal_cog_driver_metadata(tmp_path):
    """Same pixels through GDAL's COG driver: same georeferencing, tags, descriptions, nodata, structure."""
    img = np.random.default_rng(2).integers(1, 4000, (4, 700, 900)).astype("uint16")
    ours = tmp_path / "ours.tif"
    _write(ours, img, TileCodec("ZSTD", "uint16"))
    src = tmp_path / "src.tif"
    with rasterio.open(src, "w", driver="GTiff", width=900, height=700, count=4, dtype="uint16", nodata=0,
                       crs=META["crs"], transform=META["transform"]) as ds:
        ds.write(img)
        ds.descriptions = tuple(META["descriptions"])
        ds.update_tags(**META["tags"])
    gdal = tmp_path / "gdal.tif"
    rasterio.shutil.copy(src, gdal, driver="COG", COMPRESS="ZSTD", PREDICTOR="2", BLOCKSIZE="512")
    with rasterio.open(ours) as a, rasterio.open(gdal) as b:
        assert a.profile == b.profile
        assert a.tags() == b.tags() and a.descriptions == b.descriptions
        assert a.tags(ns="IMAGE_STRUCTURE") == b.tags(ns="IMAGE_STRUCTURE")
        assert a.overviews(1) == b.overviews(1) and np.array_equal(a.read(), b.read())


def test_bigtiff_when_classic_offsets_would_not_fit(tmp_path, monkeypatch):
    monkeypatch.setattr(cogblocks, "CLASSIC_LIMIT", 0)
    img = np.random.default_rng(3).integers(1, 4000, (4, 600, 600)).astype("uint16")
    path = tmp_path / "big.tif"
    _write(path, img, TileCodec("DEFLATE", "uint16"))
    assert path.read_bytes()[:4] == b"II+\0"
    with rasterio.open(path) as ds:
        assert np.array_equal(ds.read(), img)
    assert cog_problems(path) == []


def test_rio_cogeo_strict_validation(tmp_path):
    cogeo = pytest.importorskip("rio_cogeo.cogeo", reason="rio-cogeo is a dev dependency (pip install -e '.[dev]')")
    path = tmp_path / "o.tif"
    _write(path, np.random.default_rng(4).integers(1, 4000, (4, 1030, 520)).astype("uint16"),
           TileCodec("ZSTD", "uint16"))
    valid, errors, warnings = cogeo.cog_validate(path, strict=True)
    assert valid and errors == [] and warnings == []


def test_validator_flags_a_broken_trailer_and_a_plain_geotiff(tmp_path):
    path = tmp_path / "o.tif"
    _write(path, np.random.default_rng(5).integers(1, 4000, (4, 600, 600)).astype("uint16"), TileCodec("ZSTD", "uint16"))
    assert gdal_cog_errors(path) == []
    with rasterio.open(path) as ds:
        off = int(ds.get_tag_item("BLOCK_OFFSET_1_0", "TIFF", bidx=1))
        size = int(ds.get_tag_item("BLOCK_SIZE_1_0", "TIFF", bidx=1))
    data = bytearray(path.read_bytes())
    data[off + size] ^= 0xFF  # the trailer of tile (1, 0)
    path.write_bytes(bytes(data))
    assert gdal_cog_errors(path) == ["full resolution: tile 1 has a wrong trailer"]
    plain = tmp_path / "plain.tif"
    with rasterio.open(plain, "w", driver="GTiff", width=600, height=600, count=1, dtype="uint8", tiled=True,
                       crs=META["crs"], transform=META["transform"]) as ds:
        ds.write(np.ones((1, 600, 600), np.uint8))
        ds.update_tags(NOTE="metadata written after the pixels: GDAL rewrites the IFD at the end")
    errors = gdal_cog_errors(plain)
    assert errors and errors[0].startswith("the offset of the main IFD should be 8; it is ")


@pytest.mark.parametrize("dtype,compress", [("uint16", "ZSTD"), ("float32", "DEFLATE"), ("int16", "DEFLATE")])
def test_tile_codec_decodes_gdal_written_tiles(tmp_path, dtype, compress):
    """Our predictor is libtiff's: the raw bytes GDAL writes for a tile decode to GDAL's pixels."""
    rng = np.random.default_rng(6)
    img = (rng.normal(0, 1, (3, B, B)) * (1 if dtype == "float32" else 900)).astype(dtype)
    path = tmp_path / "g.tif"
    with rasterio.open(path, "w", driver="GTiff", width=B, height=B, count=3, dtype=dtype, tiled=True,
                       blockxsize=B, blockysize=B, compress=compress, predictor=3 if dtype == "float32" else 2,
                       interleave="pixel", crs=META["crs"], transform=META["transform"]) as ds:
        ds.write(img)
    with rasterio.open(path) as ds:
        off = int(ds.get_tag_item("BLOCK_OFFSET_0_0", "TIFF", bidx=1))
        size = int(ds.get_tag_item("BLOCK_SIZE_0_0", "TIFF", bidx=1))
    raw = path.read_bytes()[off:off + size]
    codec = TileCodec(compress, dtype)
    assert _same(decode_tile(raw, (B, B, 3), codec), np.ascontiguousarray(img.transpose(1, 2, 0)))
    tile = np.ascontiguousarray(img.transpose(1, 2, 0))
    assert _same(decode_tile(encode_tile(tile, codec), (B, B, 3), codec), tile)
