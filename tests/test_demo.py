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

from s2sr.cli.main import main
from s2sr.io.cog import cog_problems


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    assert main(["-q", "demo", "--out", str(out), "--size", "1024", "--max-steps", "12"]) == 0
    printed = capsys.readouterr().out
    assert "test split (evaluate): PSNR" in printed

    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["seconds"]) == {"synth", "prepare", "train", "apply", "evaluate"}
    assert summary["metrics"]["train"]["steps"] == 12
    methods = summary["metrics"]["evaluate"]["methods"]
    assert {"model", "bicubic", "lanczos"} <= set(methods)

    with rasterio.open(out / "scene" / "lr.tif") as lr, rasterio.open(out / "sr.tif") as sr:
        assert sr.crs == lr.crs and sr.bounds == pytest.approx(lr.bounds)
        assert (sr.width, sr.height) == (lr.width * 4, lr.height * 4)
        assert sr.dtypes[0] == lr.dtypes[0] and sr.nodata == lr.nodata
    assert cog_problems(out / "sr.tif") == []
    assert (out / "eval" / "report.html").stat().st_size > 10_000
    assert (out / "run" / "MODEL_CARD.md").is_file()
    assert json.loads((out / "dataset" / "footprint.geojson").read_text())["features"]

    # a second run into the same folder works (the demo overwrites its own outputs), and
    # --serve ends it by printing the map URL and serving the results
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "s2sr", "-q", "demo", "--out", str(out), "--size", "1024",
         "--max-steps", "2", "--serve", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("serving the demo map at"):
                break
        assert lines[-1].strip() == f"serving the demo map at http://127.0.0.1:{port}/ (Ctrl-C to stop)"
        layers = _get_json(f"http://127.0.0.1:{port}/layers", deadline=time.time() + 30)
        assert {"S2 RGB (High-Res)", "S2 RGB (original 10 m)"} <= {x["name"] for x in layers}
        assert json.loads((out / "summary.json").read_text())["metrics"]["train"]["steps"] == 2
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


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
