"""Temporaries of killed runs are removed by the next run (issue 11, item 13).

The runs are killed for real (SIGKILL): a child process is held at a known point (after its first
patch is written, after the COG temporary is complete) by a wrapper, then killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from s2sr.io.stale import host_tag, owner_gone, remove_stale_temps, temp_name


@pytest.fixture
def bicubic_pt(tmp_path: Path) -> Path:
    import numpy as np

    from s2sr.archs import build_arch
    from s2sr.bundle import ModelBundle
    from s2sr.sensor import SensorModel

    return ModelBundle(arch="bicubic", arch_kwargs={"in_ch": 4, "scale": 4}, scale=4, bands=["B2", "B3", "B4", "B8"],
                       mean=np.full(4, 1500, np.float32), std=np.full(4, 700, np.float32),
                       module=build_arch("bicubic", in_ch=4, scale=4).eval(),
                       sensor=SensorModel(4)).save(tmp_path / "bicubic.pt")


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _stale(folder: Path, name: str, pid: int, host: str | None = None, suffix: str = "", size: int = 1000) -> Path:
    f = folder / f".{name}.tmp-{host or host_tag()}-{pid}-abcdef12{suffix}"
    f.write_bytes(b"\0" * size)
    return f


HOLD = """
import os, sys, time
target, module, attr, flag = sys.argv[1:5]
mod = __import__(module, fromlist=[attr])
orig = getattr(mod, attr)
def held(*a, **k):
    r = orig(*a, **k)
    open(flag, "w").close()
    time.sleep(600)
    return r
setattr(mod, attr, held)
from s2sr.cli.main import main

sys.exit(main(sys.argv[5:]))
"""


def _run_and_kill(tmp_path: Path, module: str, attr: str, argv: list[str]) -> None:
    """Run the CLI in a child; once ``module.attr`` has returned there, SIGKILL the child."""
    flag = tmp_path / "reached"
    p = subprocess.Popen([sys.executable, "-c", HOLD, "x", module, attr, str(flag), *argv],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not flag.exists():
            assert p.poll() is None, "the child ended before reaching the hold point"
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    flag.unlink()


def test_prepare_removes_the_temporary_folder_of_a_killed_run(tmp_path: Path, cli) -> None:
    """prepare's `.NAME.tmp-*` folder (287 MB seen) was never removed after kill -9."""
    assert cli(["-q", "synth", str(tmp_path / "pair"), "--size", "512"]) == 0
    lr, hr = tmp_path / "pair" / "lr.tif", tmp_path / "pair" / "hr.tif"
    argv = ["-q", "prepare", "--lr", str(lr), "--hr", str(hr), "--scale", "4", "--patch-size", "16",
            "--out", str(tmp_path / "ds")]
    _run_and_kill(tmp_path, "s2sr.data.store", "StoreWriter", argv)
    left = [p.name for p in tmp_path.iterdir() if p.name.startswith(".ds.tmp-")]
    assert len(left) == 1 and (tmp_path / left[0] / "store").is_dir()  # what the killed run left
    assert cli(argv) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "pair"]


def test_apply_resume_removes_the_cog_temporary_of_a_killed_run(tmp_path: Path, make_raster, bicubic_pt, cli) -> None:
    src = make_raster("in.tif", shape=(4, 64, 64))
    out = tmp_path / "sr.tif"
    argv = ["-q", "apply", str(bicubic_pt), str(src), str(out)]
    _run_and_kill(tmp_path, "s2sr.io.cogblocks", "write_layout", argv)  # killed once the COG temporary is written
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".sr.tif"))
    # the killed run's lock file stays (its lock went with the process) and goes with the resumed run
    assert left[:3] == [".sr.tif.partial.blocks", ".sr.tif.partial.jsonl", ".sr.tif.partial.lock"]
    assert left[3].startswith(".sr.tif.tmp-")
    assert cli([*argv, "--resume"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["bicubic.pt", "in.tif", "sr.tif"])


def test_stale_names_are_removed_only_when_their_owner_is_gone(tmp_path: Path, make_raster, bicubic_pt, cli) -> None:
    """By name pattern and a pid check: dead owner removed (with GDAL's .ovr.tmp), live owner, other host,
    other names kept."""
    src = make_raster("in.tif", shape=(4, 16, 16))
    dead = _dead_pid()
    gone = [_stale(tmp_path, "sr.tif", dead), _stale(tmp_path, "sr.tif", dead, suffix=".ovr.tmp", size=45_000)]
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.05)
        kept = [_stale(tmp_path, "sr.tif", sleeper.pid), _stale(tmp_path, "sr.tif", dead, host="otherhost"),
                _stale(tmp_path, "other.tif", dead), tmp_path / ".sr.tif.tmp-notours"]
        kept[-1].write_text("x")
        assert cli(["-q", "apply", str(bicubic_pt), str(src), str(tmp_path / "sr.tif")]) == 0
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not any(p.exists() for p in gone)
    assert all(p.exists() for p in kept)


def test_a_reused_pid_does_not_keep_a_temporary_forever(tmp_path: Path) -> None:
    """The pid in the name runs again, but that process started after the temporary was last written."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        f = _stale(tmp_path, "out.tif", sleeper.pid)
        old = time.time() - 3600
        os.utime(f, (old, old))
        if not Path(f"/proc/{sleeper.pid}/stat").exists():
            pytest.skip("no /proc: process start times are unknown here")
        assert owner_gone(host_tag(), sleeper.pid, old)
        assert remove_stale_temps(tmp_path / "out.tif") == [f] and not f.exists()
        assert not owner_gone(host_tag(), sleeper.pid, time.time())
    finally:
        sleeper.kill()
        sleeper.wait()


def test_temp_names_carry_host_and_pid(tmp_path: Path) -> None:
    t = temp_name(tmp_path / "x.tif")
    assert t.parent == tmp_path and t.name.startswith(f".x.tif.tmp-{host_tag()}-{os.getpid()}-")


def test_apply_makes_no_onnx_temp_folder_with_torch_and_cleans_stale_ones(tmp_path: Path, make_raster, bicubic_pt,
                                                                           monkeypatch, cli) -> None:
    """Every apply left an empty `s2sr-onnx-*` folder in the temp folder, even with the torch backend."""
    tmp = tmp_path / "systmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    src = make_raster("in.tif", shape=(4, 16, 16))
    assert cli(["-q", "apply", str(bicubic_pt), str(src), str(tmp_path / "a.tif")]) == 0
    assert list(tmp.iterdir()) == []
    stale = tmp / f"s2sr-onnx-{host_tag()}-{_dead_pid()}-abcdef12"
    stale.mkdir()
    assert cli(["-q", "apply", str(bicubic_pt), str(src), str(tmp_path / "b.tif"), "--backend", "onnx"]) == 0
    assert list(tmp.iterdir()) == []
