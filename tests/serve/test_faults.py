"""Faults of `s2sr serve` at start (issue 11, item 5)."""

from __future__ import annotations

import pytest


def test_truncated_cog_is_one_line_error_at_start(serve_data, tmp_path, capsys, cli) -> None:
    """Item 5: a truncated COG raised `RasterioIOError: Read failed.` while the server started."""
    data = serve_data.sr.read_bytes()
    bad = tmp_path / "trunc.tif"
    bad.write_bytes(data[: len(data) * 2 // 3])
    assert cli(["-q", "serve", "--sr", str(bad), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"s2sr serve: error: {bad}: ")
    assert err.endswith("; re-download or re-export it\n")


@pytest.mark.parametrize("cut", [100, 2000])
def test_header_cut_cog_is_one_line_error(serve_data, tmp_path, capsys, cut, cli) -> None:
    bad = tmp_path / "cut.tif"
    bad.write_bytes(serve_data.sr.read_bytes()[:cut])
    assert cli(["-q", "serve", "--sr", str(bad), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"s2sr serve: error: {bad}: ")
