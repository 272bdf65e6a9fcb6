"""Clear one-line errors and warnings of apply/export: bands, models, outputs, disk full, options."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import numpy as np
import pytest
import rasterio

from s2sr.cli.main import main
from s2sr.errors import ConfigError, InputError, ModelError, OutputError
from s2sr.infer.apply import ApplyConfig, apply_model
from s2sr.infer.blockstore import BlockStore

Q = dict(progress=False)


def test_band_count_mismatch_names_file_bands_and_fix(make_raster, bicubic_pt, tmp_path):
    src = make_raster(shape=(6, 8, 8))
    with pytest.raises(InputError) as e:
        apply_model(bicubic_pt, src, tmp_path / "o.tif", ApplyConfig(**Q))
    assert str(e.value) == (f"{src}: has 6 band(s) but model bicubic expects 4 (B2, B3, B4, B8); "
                            "pass --bands with 4 band numbers in that order, e.g. --bands 1,2,3,4")
    with pytest.raises(InputError) as e:
        apply_model(bicubic_pt, src, tmp_path / "o.tif", ApplyConfig(bands="1,2", **Q))
    assert str(e.value) == (f"{src}: --bands [1, 2] selects 2 band(s) but model bicubic expects 4 "
                            "(B2, B3, B4, B8); pass --bands with 4 band numbers")
    with pytest.raises(InputError) as e:
        apply_model(bicubic_pt, src, tmp_path / "o.tif", ApplyConfig(bands="1,2,3,9", **Q))
    assert str(e.value) == f"{src}: has 6 band(s), --bands asks for [1, 2, 3, 9]; pass --bands with indices 1..6"


def test_bands_option_selects_and_orders(make_raster, bicubic_pt, tmp_path):
    rng = np.random.default_rng(1)
    data = rng.integers(100, 4000, size=(6, 10, 10)).astype(np.uint16)
    src = make_raster(data=data, nodata=None)
    a = make_raster(data=data[[5, 3, 1, 0]], nodata=None)
    import rasterio

    apply_model(bicubic_pt, src, tmp_path / "sel.tif", ApplyConfig(bands="6,4,2,1", **Q))
    apply_model(bicubic_pt, a, tmp_path / "ref.tif", ApplyConfig(**Q))
    with rasterio.open(tmp_path / "sel.tif") as x, rasterio.open(tmp_path / "ref.tif") as y:
        assert np.array_equal(x.read(), y.read())


def test_model_errors(make_raster, tmp_path):
    src = make_raster(shape=(4, 8, 8))
    missing = tmp_path / "nope.pt"
    with pytest.raises(ModelError) as e:
        apply_model(missing, src, tmp_path / "o.tif", ApplyConfig(**Q))
    assert str(e.value).startswith(f"{missing}: model file not found, and no installed model has that name (installed:")
    assert str(e.value).endswith("); pass the path of RUN/best.pt (or of an .onnx export) or a name listed by `s2sr models`")
    corrupt = tmp_path / "bad.pt"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ModelError) as e:
        apply_model(corrupt, src, tmp_path / "o.tif", ApplyConfig(**Q))
    assert str(e.value).startswith(f"{corrupt}: corrupt or truncated checkpoint (")


def test_output_errors(make_raster, bicubic_pt, tmp_path):
    src = make_raster(shape=(4, 8, 8))
    bad = tmp_path / "no" / "dir" / "o.tif"
    with pytest.raises(OutputError) as e:
        apply_model(bicubic_pt, src, bad, ApplyConfig(**Q))
    assert str(e.value) == f"{bad}: parent directory {bad.parent} does not exist; create it first"
    with pytest.raises(OutputError) as e:
        apply_model(bicubic_pt, src, src, ApplyConfig(**Q))
    assert str(e.value) == f"{src}: output would overwrite the input; choose another output path"


def test_output_over_the_model_is_refused(make_raster, bicubic_pt, tmp_path, capsys):
    """`s2sr export best.pt best.pt` (or apply ... OUT=the model) replaced the model file with its output."""
    src = make_raster(shape=(4, 8, 8))
    before = bicubic_pt.read_bytes()
    assert main(["-q", "export", str(bicubic_pt), str(bicubic_pt)]) == 2
    assert capsys.readouterr().err == (f"s2sr export: error: {bicubic_pt}: output would overwrite the model; "
                                       "choose another output path, e.g. model.onnx\n")
    assert main(["-q", "apply", str(bicubic_pt), str(src), str(bicubic_pt)]) == 2
    assert capsys.readouterr().err == (f"s2sr apply: error: {bicubic_pt}: output would overwrite the model; "
                                       "choose another output path\n")
    assert bicubic_pt.read_bytes() == before


def test_output_that_is_a_directory_fails_before_computing(make_raster, bicubic_pt, tmp_path):
    """A directory as OUT.tif is refused up front: no tiles computed, no .partial files left behind."""
    src = make_raster(shape=(4, 8, 8))
    out = tmp_path / "outdir"
    out.mkdir()
    with pytest.raises(OutputError) as e:
        apply_model(bicubic_pt, src, out, ApplyConfig(**Q))
    assert str(e.value) == f"{out}: is a directory; pass an output file path such as {out / 'sr.tif'}"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["bicubic.pt", "outdir", src.name])


@pytest.mark.parametrize("cmd", ["apply", "export"])
def test_empty_output_name_is_one_line_error(make_raster, bicubic_pt, tmp_path, capsys, cmd):
    src = make_raster(shape=(4, 8, 8))
    argv = ["-q", "apply", str(bicubic_pt), str(src), ""] if cmd == "apply" else ["-q", "export", str(bicubic_pt), ""]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"s2sr {cmd}: error: output path '.' has no file or folder name; pass a name such as out.tif\n"


def test_corrupt_block_mid_scene_is_one_line_error_and_no_partial(make_raster, corrupt_block, bicubic_pt, tmp_path,
                                                                  capsys):
    """A block that fails to decode mid-stream (first and last blocks fine): one line naming the file, exit 2."""
    src = corrupt_block(make_raster(shape=(4, 64, 64), tiled=True, blockxsize=16, blockysize=16, compress="deflate"))
    out = tmp_path / "o.tif"
    assert main(["-q", "apply", str(bicubic_pt), str(src), str(out), "--tile", "32"]) == 2
    err = capsys.readouterr().err
    assert err == (f"s2sr apply: error: {src}: pixel data is corrupt or truncated ({src.name}, band 1: IReadBlock "
                   "failed at X offset 1, Y offset 1: TIFFReadEncodedTile() failed.); re-download or re-export it\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["bicubic.pt", src.name])


def test_disk_full_is_an_output_error(tmp_path):
    """A real ENOSPC from the kernel (/dev/full) becomes a one-line OutputError."""
    store = BlockStore(tmp_path / "x.blocks", 4, report_as=tmp_path / "out.tif").open(None)
    store.close()
    store.fd = os.open("/dev/full", os.O_WRONLY)
    try:
        with pytest.raises(OutputError) as e:
            store.append(0, b"\1" * 4096)
    finally:
        store.close()
    assert str(e.value) == f"{tmp_path / 'out.tif'}: disk full while writing; free space or write elsewhere"


def test_resolution_warning(make_raster, bicubic_pt, tmp_path, caplog):
    src = make_raster(shape=(4, 8, 8), res=20.0)
    with caplog.at_level(logging.WARNING, logger="s2sr.infer"):
        apply_model(bicubic_pt, src, tmp_path / "o.tif", ApplyConfig(**Q))
    assert f"{src}: pixel size 20 m differs from the model's training resolution 10 m" in caplog.text


def test_named_bands_in_another_order_are_read_by_name(make_raster, bicubic_pt, tmp_path, caplog):
    """A file in DSen2's B4,B3,B2,B8 order, named so, was silently read as B2,B3,B4,B8 (issue 13: band
    order comes from the names, and the choice is logged)."""
    swapped = make_raster(shape=(4, 8, 8), descriptions=("B04", "B03", "B02", "B08"))
    with caplog.at_level(logging.INFO, logger="s2sr"):
        apply_model(bicubic_pt, swapped, tmp_path / "b.tif", ApplyConfig(bands="3,2,1,4", **Q))
        apply_model(bicubic_pt, swapped, tmp_path / "c.tif", ApplyConfig(**Q))
    assert "are named" not in caplog.text  # nothing to warn about: the names decided
    assert f"{swapped}: bands 3,2,1,4 = B2,B3,B4,B8, chosen by their names (reordered)" in caplog.text
    with rasterio.open(tmp_path / "b.tif") as b, rasterio.open(tmp_path / "c.tif") as c:
        np.testing.assert_array_equal(b.read(), c.read())


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_dtype_warning(make_raster, bicubic_pt, tmp_path, caplog, backend):
    """A uint8 image (e.g. NAIP) fed to a model trained on uint16 reflectance is not silently accepted."""
    src = make_raster(shape=(4, 8, 8), dtype="uint8", data=np.full((4, 8, 8), 100, np.uint8))
    same = make_raster(shape=(4, 8, 8))
    with caplog.at_level(logging.WARNING, logger="s2sr.infer"):
        apply_model(bicubic_pt, same, tmp_path / "u16.tif", ApplyConfig(backend=backend, **Q))
        assert "data type" not in caplog.text
        apply_model(bicubic_pt, src, tmp_path / "o.tif", ApplyConfig(backend=backend, **Q))
    assert (f"{src}: data type uint8 differs from the model's training data (uint16); check that its values are "
            "in the training units (e.g. reflectance x 10000), else the results are meaningless") in caplog.text


@pytest.mark.parametrize("kw,msg", [
    (dict(precision="fp16"), "--precision 'fp16': choose one of fp32, bf16"),
    (dict(window=(0, 0, 4, 4), bbox=(0, 0, 1, 1)), "--window and --bbox: pass only one of them"),
    (dict(out_dtype="int8"), "--out-dtype 'int8': choose one of same, float32"),
    (dict(backend="onnx", precision="bf16"), "--precision bf16: the onnx backend runs fp32 only; use --precision fp32"),
])
def test_option_errors(kw, msg):
    with pytest.raises(ConfigError) as e:
        ApplyConfig(**kw)
    assert str(e.value) == msg


def test_bad_device_is_one_line_error_before_any_output(make_raster, bicubic_pt, tmp_path, capsys):
    import torch

    src = make_raster(shape=(4, 8, 8))
    out = tmp_path / "o.tif"
    assert main(["-q", "apply", str(bicubic_pt), str(src), str(out), "--device", "nonsense"]) == 2
    assert capsys.readouterr().err == ("s2sr apply: error: --device 'nonsense': not a torch device; "
                                       "use cpu or cuda (e.g. cuda:0)\n")
    if not torch.cuda.is_available():
        assert main(["-q", "apply", str(bicubic_pt), str(src), str(out), "--device", "cuda"]) == 2
        assert capsys.readouterr().err == ("s2sr apply: error: --device cuda: no CUDA device is available to torch; "
                                           "use --device cpu\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["bicubic.pt", src.name])


@pytest.mark.parametrize("opset", [5, 99])
def test_export_unsupported_opset_is_one_line_error(bicubic_pt, tmp_path, capsys, opset):
    out = tmp_path / "m.onnx"
    assert main(["-q", "export", str(bicubic_pt), str(out), "--opset", str(opset)]) == 2
    assert capsys.readouterr().err == f"s2sr export: error: --opset {opset}: must be in 11..20; use the default 17\n"
    assert not out.exists()


def test_window_and_bbox_outside(make_raster, bicubic_pt, tmp_path):
    src = make_raster(shape=(4, 8, 8))
    with pytest.raises(ConfigError) as e:
        apply_model(bicubic_pt, src, tmp_path / "o.tif", ApplyConfig(window=(4, 4, 8, 8), **Q))
    assert str(e.value) == f"{src}: window 4,4,8,8: not inside the 8x8 scene; pass --window/--bbox within the input"
    with pytest.raises(ConfigError) as e:
        apply_model(bicubic_pt, src, tmp_path / "o.tif", ApplyConfig(bbox=(0, 0, 10, 10), **Q))
    assert str(e.value).startswith("--bbox (0, 0, 10, 10): does not overlap ")


def test_cli_prints_one_line_and_exits_2(make_raster, bicubic_pt, tmp_path, capsys):
    src = make_raster(shape=(3, 8, 8))
    rc = main(["apply", str(bicubic_pt), str(src), str(tmp_path / "o.tif")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert err[0].startswith(f"s2sr apply: error: {src}: has 3 band(s) but model bicubic expects 4")


def test_cli_pixel_grid_input_gives_no_rasterio_warning(bicubic_pt, tmp_path, caplog):
    """An input without geotransform (like the DSen2 samples) is one s2sr log line, not rasterio's 2-line warning."""
    import warnings

    import rasterio

    src = tmp_path / "grid.tif"
    with warnings.catch_warnings():  # writing a pixel grid on purpose: rasterio's warning about it is expected
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(src, "w", driver="GTiff", width=8, height=8, count=4, dtype="uint16") as ds:
            ds.write(np.full((4, 8, 8), 900, np.uint16))
    with warnings.catch_warnings(record=True) as seen, caplog.at_level(logging.INFO, logger="s2sr.infer"):
        warnings.simplefilter("always")
        assert main(["apply", str(bicubic_pt), str(src), str(tmp_path / "o.tif")]) == 0
    assert [str(w.message) for w in seen if w.category is rasterio.errors.NotGeoreferencedWarning] == []
    assert f"{src}: no CRS; the output keeps its pixel grid (1 input pixel = 4 x 4 output pixels)" in caplog.text


def test_cli_apply_and_export_end_to_end(make_raster, bicubic_pt, tmp_path):
    src = make_raster(shape=(4, 12, 10))
    out, onnx_out = tmp_path / "o.tif", tmp_path / "m.onnx"
    assert main(["-q", "apply", str(bicubic_pt), str(src), str(out), "--tile", "8", "--overlap", "2",
                 "--window", "1,2,8,9", "--compress", "ZSTD"]) == 0
    import rasterio

    with rasterio.open(out) as ds:
        assert (ds.width, ds.height) == (32, 36)
    assert main(["-q", "export", str(bicubic_pt), str(onnx_out)]) == 0 and onnx_out.stat().st_size > 0
    # the CLI module itself must not import torch/rasterio at import time
    code = "import sys, s2sr.cli.apply, s2sr.cli.export; print('torch' in sys.modules, 'rasterio' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False False"


@pytest.mark.parametrize(("cmd", "name", "msg"), [
    ("apply", "out.png", "s2sr apply writes a Cloud Optimized GeoTIFF; name the output *.tif"),
    ("export", "model.pt", "s2sr export writes an ONNX model; name the output *.onnx"),
])
def test_output_extension_must_match_the_format(make_raster, bicubic_pt, tmp_path, capsys, cmd, name, msg):
    out = tmp_path / name
    args = [cmd, str(bicubic_pt), str(make_raster(shape=(4, 8, 8))), str(out)] if cmd == "apply" \
        else [cmd, str(bicubic_pt), str(out)]
    assert main(["-q", *args]) == 2
    assert capsys.readouterr().err == f"s2sr {cmd}: error: {out}: {msg}\n"
    assert not out.exists()
