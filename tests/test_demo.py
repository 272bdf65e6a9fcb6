"""The demo chains every stage on a small synthetic scene and leaves consistent outputs."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import rasterio

from s2sr.io.cog import cog_problems


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    """One pipeline run, into a folder holding a previous run's outputs, ending by serving the map."""
    out = tmp_path / "demo"
    stale = {out / "dataset" / "stale.txt": "x", out / "run" / "last.pt": "not a state", out / "sr.tif": "junk",
             out / "eval" / "stale.txt": "x"}
    for path, text in stale.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "s2sr", "-q", "demo", "--out", str(out), "--size", "1024",
         "--max-steps", "12", "--serve", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("serving the demo map at"):
                break
        assert lines[-1].strip() == f"serving the demo map at http://127.0.0.1:{port}/ (Ctrl-C to stop)"
        assert any("test split (evaluate): PSNR" in line for line in lines)
        layers = _get_json(f"http://127.0.0.1:{port}/layers", deadline=time.time() + 30)
        names = [x["name"] for x in layers]
        for scene in ("nantes-s2", "synthetic"):  # the shipped model on the real crop, and the demo's own model
            assert {f"{scene}: S2 RGB (High-Res)", f"{scene}: S2 RGB (original 10 m)"} <= set(names), names
        assert "nantes-s2: SR confidence" in names  # apply --uncertainty with the shipped model's head
        assert "nantes-s2-safe: S2 RGB (High-Res)" in names  # and apply --safe beside it
        assert names[0].startswith("nantes-s2: ")  # the map opens on real imagery
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)  # waits, and closes the stdout pipe (no unclosed-file ResourceWarning)

    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["seconds"]) == {"synth", "prepare", "train", "apply", "evaluate", "real: apply",
                                       "real: apply --safe", "real: Wald check"}
    assert Path(summary["paths"]["real_uncertainty"]).exists()
    with rasterio.open(summary["paths"]["real_safe"]) as safe, rasterio.open(summary["paths"]["real_sr"]) as plain:
        assert "S2SR_SAFE" in safe.tags() and (safe.transform, safe.shape) == (plain.transform, plain.shape)
    assert summary["metrics"]["train"]["steps"] == 12
    methods = summary["metrics"]["evaluate"]["methods"]
    assert {"model", "bicubic", "lanczos"} <= set(methods)
    assert not any(p.exists() for p in stale if p.suffix == ".txt")  # the old folders were replaced

    with rasterio.open(out / "scene" / "lr.tif") as lr, rasterio.open(out / "sr.tif") as sr:
        assert sr.crs == lr.crs and sr.bounds == pytest.approx(lr.bounds)
        assert (sr.width, sr.height) == (lr.width * 4, lr.height * 4)
        assert sr.dtypes[0] == lr.dtypes[0] and sr.nodata == lr.nodata
    assert cog_problems(out / "sr.tif") == []
    assert (out / "eval" / "report.html").stat().st_size > 10_000
    # the model ran once: evaluate scored the sr.tif apply wrote (issue 13, item 11)
    assert json.loads((out / "eval" / "metrics.json").read_text())["sr"] == {"path": str(out / "sr.tif"),
                                                                            "computed": False}
    assert not (out / "eval" / "sr.tif").exists()
    assert (out / "run" / "MODEL_CARD.md").is_file()
    assert json.loads((out / "dataset" / "footprint.geojson").read_text())["features"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get_json(url: str, deadline: float) -> list[dict[str, object]]:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return json.loads(r.read())
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.3)
