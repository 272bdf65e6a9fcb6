"""Faults of apply/export that gave tracebacks or wrong results (issue 11, items 2, 6, 7, 9, 11, 12)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch

from s2sr.cli.main import main


def _noise(make_raster, name: str, size: int):
    data = np.random.default_rng(3).integers(100, 4000, (4, size, size)).astype(np.uint16)
    return make_raster(name, data=data, nodata=None)


def _err(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_disk_full_in_the_cog_step_is_one_line_and_resume_finishes(make_raster, bicubic_pt, small_disk, tmp_path,
                                                                   capsys, cli):
    """Items 2 and 12: ENOSPC while GDAL writes the COG (TIFFRewriteDirectory) was a traceback, also on
    --resume; the message now says that --resume finishes the run once space is freed."""
    src = _noise(make_raster, "in.tif", 128)  # output 512x512x4 uint16: a 2 MiB partial, a ~2 MiB COG
    disk = small_disk(5 * 1024)
    filler = disk / "filler"
    filler.write_bytes(b"\0" * (2560 * 1024))
    out = disk / "sr.tif"
    msg = (f"s2sr apply: error: {out}: disk full while writing; free space, then run the same command with "
           "--resume to finish from the tiles already done (or write elsewhere)\n")
    argv = ["-q", "apply", str(bicubic_pt), str(src), str(out)]
    assert cli(argv) == 2
    assert _err(capsys) == msg
    left = sorted(p.name for p in disk.iterdir())
    assert left == [".sr.tif.partial.blocks", ".sr.tif.partial.jsonl", "filler"]  # the resume state, nothing else
    assert cli([*argv, "--resume"]) == 2
    assert _err(capsys) == msg
    filler.unlink()
    assert cli([*argv, "--resume"]) == 0
    assert sorted(p.name for p in disk.iterdir()) == ["sr.tif"]
    ref = tmp_path / "ref.tif"
    assert cli(["-q", "apply", str(bicubic_pt), str(src), str(ref)]) == 0
    with rasterio.open(out) as a, rasterio.open(ref) as b:
        assert np.array_equal(a.read(), b.read())


@pytest.mark.parametrize("window", ["0,0,-10,10", "0,0,10,0", "-1,0,4,4"])
def test_negative_or_empty_window_is_one_line_error(make_raster, bicubic_pt, tmp_path, capsys, window, cli):
    """Item 6: --window=0,0,-10,10 raised rasterio's ValueError."""
    src = make_raster(shape=(4, 16, 16))
    assert cli(["-q", "apply", str(bicubic_pt), str(src), str(tmp_path / "o.tif"), f"--window={window}"]) == 2
    assert _err(capsys) == (f"s2sr apply: error: --window {window}: expects COL,ROW,WIDTH,HEIGHT in input pixels "
                            "with COL, ROW >= 0 and WIDTH, HEIGHT > 0; fix --window\n")
    assert not (tmp_path / "o.tif").exists()


def _export(pt: Path, out: Path) -> Path:
    assert main(["-q", "export", str(pt), str(out)]) == 0
    return out


def _edit_onnx_meta(path: Path, out: Path, **changes) -> Path:
    import onnx

    m = onnx.load(str(path))
    for p in m.metadata_props:
        if p.key == "s2sr_bundle":
            p.value = json.dumps({**json.loads(p.value), **changes})
    onnx.save(m, str(out))
    return out


def test_bit_flipped_onnx_metadata_is_one_line_error(make_raster, bicubic_pt, tmp_path, capsys, cli):
    """Item 7: a bit flip inside the ONNX metadata raised UnicodeDecodeError."""
    onnx_path = _export(bicubic_pt, tmp_path / "m.onnx")
    data = bytearray(onnx_path.read_bytes())
    i = data.find(b'"arch"')
    data[i + 2] ^= 0xFF  # an invalid UTF-8 byte inside the JSON text
    bad = tmp_path / "flip.onnx"
    bad.write_bytes(bytes(data))
    src = make_raster(shape=(4, 16, 16))
    out = tmp_path / "o.tif"
    assert cli(["-q", "apply", str(bad), str(src), str(out), "--backend", "onnx"]) == 2
    err = _err(capsys)
    assert err.startswith(f"s2sr apply: error: {bad}: corrupt ") and err.endswith("re-run `s2sr export`\n")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".o.tif")) == []


def test_onnx_whose_output_disagrees_with_its_metadata_is_refused_before_writing(make_raster, bicubic_pt, tmp_path,
                                                                                 capsys, cli):
    """Item 7: an ONNX whose output shape does not match its metadata raised IndexError and left partial files."""
    bad = _edit_onnx_meta(_export(bicubic_pt, tmp_path / "m.onnx"), tmp_path / "scale2.onnx", scale=2)
    src = make_raster(shape=(4, 16, 16))
    before = set(os.listdir(tmp_path))
    assert cli(["-q", "apply", str(bad), str(src), str(tmp_path / "o.tif"), "--backend", "onnx"]) == 2
    assert _err(capsys) == (f"s2sr apply: error: {bad}: the network turns 4 bands of 16x16 px into shape "
                            "(4, 64, 64), but the model says x2 with 4 bands (4, 32, 32); the ONNX file was edited "
                            "or is damaged; re-run `s2sr export`\n")
    assert set(os.listdir(tmp_path)) == before


def _light_bundle(tmp_path: Path, **edit) -> Path:
    from s2sr.archs import build_arch
    from s2sr.bundle import ModelBundle
    from s2sr.sensor import SensorModel

    b = ModelBundle(arch="light", arch_kwargs={"in_ch": 4, "scale": 4, "width": 8, "depth": 1}, scale=4,
                    bands=["B2", "B3", "B4", "B8"], mean=np.full(4, 1000, np.float32), std=np.full(4, 500, np.float32),
                    module=build_arch("light", in_ch=4, scale=4, width=8, depth=1).eval(), sensor=SensorModel(4))
    d = b.to_dict()
    d.update(edit)
    path = tmp_path / "edited.pt"
    torch.save(d, path)
    return path


def test_bundle_whose_band_list_disagrees_with_its_weights(make_raster, tmp_path, capsys, cli):
    """Item 9: an edited band list gave a RuntimeError deep in the tile loop and partial files."""
    pt = _light_bundle(tmp_path, bands=["B2", "B3", "B4"], norm={"mean": [1000.0] * 3, "std": [500.0] * 3})
    src = make_raster("in.tif", shape=(3, 16, 16))
    assert cli(["-q", "apply", str(pt), str(src), str(tmp_path / "o.tif")]) == 2
    err = _err(capsys)
    assert err.startswith(f"s2sr apply: error: {pt}: its 3 bands (B2, B3, B4) do not fit the network's weights (")
    assert err.endswith("; the bundle was edited or is damaged; use the RUN/best.pt written by `s2sr train`\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edited.pt", "in.tif"]


def test_bundle_whose_scale_disagrees_with_its_network(make_raster, tmp_path, capsys, cli):
    """Item 9: scale 2 in a bundle whose network upsamples x4 wrote a wrong grid with exit 0."""
    pt = _light_bundle(tmp_path, scale=2)
    src = make_raster("in.tif", shape=(4, 16, 16))
    assert cli(["-q", "apply", str(pt), str(src), str(tmp_path / "o.tif")]) == 2
    assert _err(capsys) == (f"s2sr apply: error: {pt}: the network turns 4 bands of 16x16 px into shape "
                            "(4, 64, 64), but the model says x2 with 4 bands (4, 32, 32); the bundle was edited or "
                            "is damaged; use the RUN/best.pt written by `s2sr train`\n")
    assert not (tmp_path / "o.tif").exists()


def test_export_of_an_onnx_file_says_what_it_is(bicubic_pt, tmp_path, capsys, cli):
    """Item 11: an ONNX passed to export read "corrupt or truncated checkpoint"."""
    onnx_path = _export(bicubic_pt, tmp_path / "m.onnx")
    assert cli(["-q", "export", str(onnx_path), str(tmp_path / "again.onnx")]) == 2
    assert _err(capsys) == (f"s2sr export: error: {onnx_path}: is an ONNX model, not a PyTorch checkpoint; pass the "
                            ".pt bundle (RUN/best.pt) (an ONNX model runs with `s2sr apply --backend onnx`)\n")


UNREADABLE = """
import os, sys
from s2sr.cli.main import main

sys.exit(main(["-q", "export", sys.argv[1], sys.argv[2]]))
"""


def _without_root_file_access() -> None:
    """In a child about to exec: drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the bounding set, so a
    root process is held to file modes like any user (prctl PR_CAPBSET_DROP)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):
        if libc.prctl(24, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def test_unreadable_model_is_a_permission_error_not_a_corrupt_file(bicubic_pt, tmp_path):
    """Item 11: a model the user may not read read "corrupt or truncated checkpoint".

    Root reads any file: as root the command runs without the capabilities that bypass file modes.
    """
    pt = tmp_path / "m.pt"
    pt.write_bytes(bicubic_pt.read_bytes())
    pt.chmod(0o000)
    drop = _without_root_file_access if os.geteuid() == 0 else None
    p = subprocess.run([sys.executable, "-c", UNREADABLE, str(pt), str(tmp_path / "o.onnx")], capture_output=True,
                       text=True, preexec_fn=drop, timeout=120)
    assert p.returncode == 2, p.stderr
    assert p.stderr == (f"s2sr export: error: {pt}: cannot read the checkpoint (Permission denied); "
                        "check the file's permissions\n")


def test_unreachable_dask_scheduler_creates_no_partial_output(make_raster, bicubic_pt, tmp_path, capsys, cli):
    """Item 14: `apply --dask tcp://unreachable` created the full-size partial output before connecting."""
    import dask.config
    import distributed  # noqa: F401 - its config defaults first: leaving dask.config.set below would drop them

    from s2sr.serve.app import free_port

    src = make_raster("in.tif", shape=(4, 64, 64))
    addr = f"tcp://127.0.0.1:{free_port('127.0.0.1')}"  # nothing listens there
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        assert cli(["-q", "apply", str(bicubic_pt), str(src), str(tmp_path / "o.tif"), "--dask", addr]) == 2
    err = _err(capsys)
    assert err.startswith(f"s2sr apply: error: --dask '{addr}': cannot reach the scheduler (")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bicubic.pt", "in.tif"]
