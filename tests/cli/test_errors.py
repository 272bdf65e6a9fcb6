"""CLI errors: a file that is not a model, and --debug keeping the exit code (issue 13, items 5 and 7)."""

from __future__ import annotations

import datetime
from pathlib import Path

import torch

from s2sr.cli.main import main

README = Path(__file__).resolve().parents[2] / "README.md"


def _err_lines(capsys) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


def test_a_text_file_as_model_is_not_an_s2sr_model(make_raster, tmp_path, capsys):
    assert main(["-q", "apply", str(README), str(make_raster()), str(tmp_path / "o.tif")]) == 2
    (line,) = _err_lines(capsys)
    assert line == (f"s2sr apply: error: {README}: is a text file, not a PyTorch checkpoint, so not an s2sr model; "
                    "re-copy or re-train it")
    assert not (tmp_path / "o.tif").exists()


def test_a_foreign_pytorch_file_is_named_so_and_not_cut_mid_word(make_raster, tmp_path, capsys):
    foreign = tmp_path / "foreign.pt"
    torch.save({"when": datetime.date(2024, 1, 1)}, foreign)  # a pickle s2sr refuses to unpickle
    assert main(["-q", "apply", str(foreign), str(make_raster()), str(tmp_path / "o.tif")]) == 2
    (line,) = _err_lines(capsys)
    assert line.startswith(f"s2sr apply: error: {foreign}: holds Python objects other than weights and metadata")
    truncated = tmp_path / "cut.pt"
    truncated.write_bytes(foreign.read_bytes()[:200])  # a zip cut short: corrupt, said in whole words
    assert main(["-q", "apply", str(truncated), str(make_raster()), str(tmp_path / "o.tif")]) == 2
    (line,) = _err_lines(capsys)
    assert f"{truncated}: corrupt or truncated checkpoint (" in line and line.endswith("; re-copy or re-train it")
    detail = line.split("checkpoint (", 1)[1].rsplit(");", 1)[0]
    assert len(detail) <= 124 and (len(detail) < 120 or detail.endswith(" ..."))


def test_debug_shows_the_traceback_and_keeps_the_exit_code(make_raster, tmp_path, capsys):
    argv = ["apply", str(README), str(make_raster()), str(tmp_path / "o.tif")]
    assert main(["-q", *argv]) == 2
    plain = _err_lines(capsys)
    assert main(["-q", "--debug", *argv]) == 2
    debug = _err_lines(capsys)
    assert debug[0] == "Traceback (most recent call last):" and "ModelError" in "\n".join(debug)
    assert debug[-1] == plain[-1]


def test_debug_exit_code_in_a_real_process(make_raster, tmp_path):
    """The exit status the shell sees (not only main's return value) is 2 with and without --debug."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, OMP_NUM_THREADS="1")
    for extra in ([], ["--debug"]):
        r = subprocess.run([sys.executable, "-m", "s2sr", "-q", *extra, "apply", str(README), str(make_raster()),
                            str(tmp_path / "o.tif")], capture_output=True, text=True, env=env, timeout=120)
        assert r.returncode == 2, (extra, r.stderr[-300:])
