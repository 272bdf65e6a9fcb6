"""--resume after a real SIGKILL finishes the scene bit-identically; the journal guards its run."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio

from s2sr.errors import OutputError
from s2sr.infer.apply import ApplyConfig, apply_model

TILE = ["--tile", "8", "--overlap", "2"]


def _journal_blocks(path: Path) -> int:
    if not path.exists():
        return 0
    n = 0
    for line in path.read_text().splitlines()[1:]:
        with contextlib.suppress(json.JSONDecodeError, KeyError):  # a line torn by the kill
            n += len(json.loads(line)["blocks"])
    return n


@pytest.mark.slow
def test_resume_after_sigkill_is_bit_identical(make_raster, bicubic_pt, tmp_path):
    src = make_raster(shape=(4, 480, 480), seed=5)
    ref, out = tmp_path / "ref.tif", tmp_path / "out.tif"
    full = apply_model(bicubic_pt, src, ref, ApplyConfig(tile=8, overlap=2, progress=False))
    journal = tmp_path / ".out.tif.partial.jsonl"
    cmd = [sys.executable, "-m", "s2sr", "-q", "apply", str(bicubic_pt), str(src), str(out), *TILE]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        # kill once the first row of output blocks is stored (4 of the 16 full-resolution blocks of 512 px; 21
        # blocks with the overviews), so resuming skips tiles; killing at the first journal line made the test
        # fail on a loaded machine (too little done: every tile still needed)
        while _journal_blocks(journal) < 4 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        _, err = proc.communicate()  # waits and closes the stderr pipe (no unclosed-file ResourceWarning)
    assert proc.returncode == -signal.SIGKILL, err.decode()
    done = _journal_blocks(journal)
    assert not out.exists() and 0 < done < 21  # 4x4 + 2x2 + 1 blocks of 512 px
    res = apply_model(bicubic_pt, src, out, ApplyConfig(tile=8, overlap=2, progress=False, resume=True))
    assert res.blocks_resumed >= done and 0 < res.tiles_computed < full.tiles_computed
    with rasterio.open(ref) as a, rasterio.open(out) as b:
        assert np.array_equal(a.read(), b.read())
        assert a.profile == b.profile and a.tags() == b.tags()
    assert ref.read_bytes() == out.read_bytes()
    assert not journal.exists()


def test_resume_refuses_a_journal_of_another_run(make_raster, bicubic_pt, tmp_path):
    src = make_raster(shape=(4, 20, 20))
    out = tmp_path / "out.tif"
    journal = tmp_path / ".out.tif.partial.jsonl"
    raw = tmp_path / ".out.tif.partial.blocks"
    journal.write_text(json.dumps({"kind": "s2sr-apply-journal", "fingerprint": "other"}) + "\n")
    raw.write_bytes(b"")
    with pytest.raises(OutputError) as e:
        apply_model(bicubic_pt, src, out, ApplyConfig(resume=True, progress=False))
    assert str(e.value) == (f"{journal}: partial output belongs to a different run (model, input or options "
                            "changed); rerun without --resume to start over")
    # without --resume the stale partial output is simply replaced
    apply_model(bicubic_pt, src, out, ApplyConfig(progress=False))
    assert out.exists() and not journal.exists() and not raw.exists()


def test_resume_without_partial_starts_fresh(make_raster, bicubic_pt, tmp_path):
    src = make_raster(shape=(4, 20, 20))
    res = apply_model(bicubic_pt, src, tmp_path / "o.tif", ApplyConfig(resume=True, progress=False, tile=8, overlap=2))
    assert res.blocks_resumed == 0 and res.tiles_computed == res.tiles_total == 9
