"""Data loss and silent corruption (issue 25, items 1-3): a batch never writes over one of its inputs, two
runs never share one output, a damaged block store never becomes a COG, and damaged model files are
refused on load (torch and ONNX), each with one line on stderr and a non-zero exit."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch

from s2sr.cli.main import main

from ..conftest import make_bundle, textured_scene


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_error_line(capsys: pytest.CaptureFixture[str], *words: str) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, err
    return err


def test_batch_refuses_an_output_that_is_another_of_its_inputs(make_raster, bicubic_pt: Path, tmp_path: Path,
                                                              capsys) -> None:
    d = tmp_path / "in"
    d.mkdir()
    x = make_raster("in/x.tif", shape=(4, 24, 24), seed=1)
    x_sr = make_raster("in/x_sr.tif", shape=(4, 24, 24), seed=2)
    before = {p.name: _sha(p) for p in d.iterdir()}
    assert main(["apply", str(bicubic_pt), str(x), str(x_sr), "--out-dir", str(d)]) == 2
    _one_error_line(capsys, "x_sr.tif", "would overwrite the input", "--out-dir")
    assert {p.name: _sha(p) for p in d.iterdir()} == before  # nothing written, nothing replaced


def _all_blocks_decode(path: Path) -> None:
    """Read every block of every level (GDAL decodes each one)."""
    with rasterio.open(path) as ds:
        for ovr in [None, *range(len(ds.overviews(1)))]:
            f = 1 if ovr is None else ds.overviews(1)[ovr]
            with rasterio.open(path, overview_level=ovr) if ovr is not None else rasterio.open(path) as lv:
                assert lv.read().shape[0] == ds.count, f


def test_a_second_writer_of_one_output_fails_at_once_naming_the_first(make_raster, bicubic_pt: Path,
                                                                     tmp_path: Path, capsys) -> None:
    a = make_raster("a.tif", shape=(4, 400, 400), seed=3)
    b = make_raster("b.tif", shape=(4, 400, 400), seed=4)
    out = tmp_path / "out.tif"
    lock = tmp_path / ".out.tif.partial.lock"
    cmd = [sys.executable, "-m", "s2sr", "-q", "apply", str(bicubic_pt), str(a), str(out), "--tile", "8", "--overlap", "2"]
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not lock.exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert lock.exists(), "the first run finished before it could be raced; use a larger input"
        assert main(["apply", str(bicubic_pt), str(b), str(out)]) == 2
        _one_error_line(capsys, str(out), f"another s2sr run (pid {first.pid}) is writing this output")
    finally:
        _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err.decode()
    assert not lock.exists()
    _all_blocks_decode(out)
    ref = tmp_path / "ref.tif"
    assert main(["-q", "apply", str(bicubic_pt), str(a), str(ref), "--tile", "8", "--overlap", "2"]) == 0
    with rasterio.open(ref) as r, rasterio.open(out) as o:
        assert np.array_equal(r.read(), o.read())  # the first run's output, untouched by the second


def test_the_lock_of_a_killed_run_does_not_block_resume(make_raster, bicubic_pt: Path, tmp_path: Path) -> None:
    src = make_raster("s.tif", shape=(4, 400, 400), seed=6)
    out = tmp_path / "out.tif"
    cmd = [sys.executable, "-m", "s2sr", "-q", "apply", str(bicubic_pt), str(src), str(out), "--tile", "8", "--overlap", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = tmp_path / ".out.tif.partial.jsonl"
    deadline = time.monotonic() + 120
    while (not journal.exists() or journal.stat().st_size < 400) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (tmp_path / ".out.tif.partial.lock").exists()  # left by the killed process, its lock gone with it
    assert main(["-q", "apply", str(bicubic_pt), str(src), str(out), "--tile", "8", "--overlap", "2", "--resume"]) == 0
    _all_blocks_decode(out)
    assert not (tmp_path / ".out.tif.partial.lock").exists()


def test_a_bit_rotted_block_store_never_becomes_a_cog(make_raster, bicubic_pt: Path, tmp_path: Path, capsys) -> None:
    src = make_raster("s.tif", shape=(4, 480, 480), seed=5)
    out = tmp_path / "out.tif"
    blocks = tmp_path / ".out.tif.partial.blocks"
    journal = tmp_path / ".out.tif.partial.jsonl"
    cmd = [sys.executable, "-m", "s2sr", "-q", "apply", str(bicubic_pt), str(src), str(out), "--tile", "8", "--overlap", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while (not journal.exists() or len(journal.read_text().splitlines()) < 3) and proc.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists() and blocks.stat().st_size > 1000
    raw = bytearray(blocks.read_bytes())
    for i in range(40, min(len(raw), 4000), 7):  # bit rot inside the first stored block
        raw[i] ^= 0x5A
    blocks.write_bytes(bytes(raw))
    # -q: the rotted block may be one the resume does not need until assembly, after a progress bar
    assert main(["-q", "apply", str(bicubic_pt), str(src), str(out), "--tile", "8", "--overlap", "2", "--resume"]) == 2
    _one_error_line(capsys, str(out), "does not decode", "rerun without --resume")
    assert not out.exists()


# ---- model files -----------------------------------------------------------------------------------------

def _edited(tmp_path: Path, name: str, edit) -> Path:  # noqa: ANN001 - edit(d) changes the saved dict
    good = make_bundle("light", width=8, depth=2)
    d = torch.load(good.save(tmp_path / "good.pt"), weights_only=True)
    edit(d)
    path = tmp_path / name
    torch.save(d, path)
    return path


def _flip_bits(d: dict) -> None:
    t = d["state_dict"]["body.0.weight"]
    flat = t.view(-1).view(torch.int32)
    for i in range(0, 200):
        flat[i % flat.numel()] ^= 1 << (i % 23)


def _nan(d: dict) -> None:
    from s2sr.bundle import weights_digest

    d["state_dict"]["body.0.weight"][0, 0, 0, 0] = float("nan")
    d["weights_sha256"] = weights_digest(d["state_dict"])  # a consistent file that holds NaN


def _zeros(d: dict) -> None:
    from s2sr.bundle import weights_digest

    d["arch_kwargs"]["residual"] = False
    for v in d["state_dict"].values():
        v.zero_()
    d["weights_sha256"] = weights_digest(d["state_dict"])


@pytest.mark.parametrize("name, edit, words", [
    ("flipped.pt", _flip_bits, ("do not match their checksum",)),
    ("nan.pt", _nan, ("body.0.weight hold NaN or infinite values",)),
    ("std0.pt", lambda d: d["norm"].update(std=[0.0, 1.0, 1.0, 1.0]), ("is not finite and positive",)),
    ("meannan.pt", lambda d: d["norm"].update(mean=[float("nan")] * 4), ("is not finite and positive",)),
    ("future.pt", lambda d: d.update(format_version=999), ("format_version 999 is newer", "upgrade s2sr")),
    ("constant.pt", _zeros, ("one value everywhere",)),
])
@pytest.mark.parametrize("command", ["apply", "export"])
def test_damaged_models_are_refused(make_raster, tmp_path: Path, capsys, name: str, edit, words: tuple[str, ...],
                                    command: str) -> None:
    model = _edited(tmp_path, name, edit)
    src = make_raster("s.tif", shape=(4, 24, 24))
    args = [str(model), str(src), str(tmp_path / "o.tif")] if command == "apply" else [str(model), str(tmp_path / "o.onnx")]
    assert main([command, *args]) == 2
    _one_error_line(capsys, name, *words)
    assert not (tmp_path / "o.tif").exists() and not (tmp_path / "o.onnx").exists()


def test_an_onnx_model_with_nan_weights_is_refused(make_raster, tmp_path: Path, capsys) -> None:
    import onnx
    from onnx import numpy_helper

    from s2sr.infer.export import export_onnx

    onnx_path = export_onnx(make_bundle("light", width=8, depth=2), tmp_path / "m.onnx")
    m = onnx.load(str(onnx_path))
    init = next(i for i in m.graph.initializer if np.prod(i.dims) > 4)
    arr = numpy_helper.to_array(init).copy()
    arr.flat[0] = np.nan
    init.CopyFrom(numpy_helper.from_array(arr, init.name))
    onnx.save(m, str(onnx_path))
    src = make_raster("s.tif", shape=(4, 24, 24))
    assert main(["apply", str(onnx_path), str(src), str(tmp_path / "o.tif"), "--backend", "onnx"]) == 2
    _one_error_line(capsys, "m.onnx", "NaN or infinite")


def test_a_good_model_loads_and_old_bundles_without_a_checksum_still_load(tmp_path: Path) -> None:
    from s2sr.bundle import load_model

    p = _edited(tmp_path, "old.pt", lambda d: d.pop("weights_sha256"))
    assert load_model(p).arch == "light"
    good = make_bundle("light", width=8, depth=2).save(tmp_path / "g.pt")
    assert torch.load(good, weights_only=True)["weights_sha256"]
    x = textured_scene(16, 0).astype(np.float32)
    assert np.isfinite(load_model(good).predict(x)).all()


def test_the_weights_checksum_does_not_depend_on_the_memory_format() -> None:
    from s2sr.bundle import weights_digest

    m = torch.nn.Conv2d(16, 48, 1)  # (48, 16, 1, 1): channels-last strides that .contiguous() keeps
    a = weights_digest(m.state_dict())
    assert weights_digest(m.to(memory_format=torch.channels_last).state_dict()) == a
