"""The shared_data tests say how to run them, and CI runs them when the samples exist (issue 13, item 14)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_skip_reason_says_how_to_run_them(monkeypatch, tmp_path, request):
    monkeypatch.setenv("S2SR_SHARED_DATA", str(tmp_path / "nowhere"))
    from_conftest = request.getfixturevalue  # the fixture itself, as the shared_data tests get it
    with pytest.raises(pytest.skip.Exception) as e:
        from_conftest("shared_data")
    reason = str(e.value)
    assert f"shared sample data not found at {tmp_path / 'nowhere'}" in reason
    assert "S2SR_SHARED_DATA=/path/to/data .venv/bin/python -m pytest -m shared_data" in reason
    assert "../shared/data" in reason


@pytest.mark.parametrize("present", [True, False])
def test_ci_finds_the_shared_samples_beside_the_repository(tmp_path, present):
    repo = tmp_path / "repo"
    (repo / ".ci").mkdir(parents=True)
    shutil.copy(ROOT / ".ci" / "shared-data.sh", repo / ".ci" / "shared-data.sh")
    if present:
        (tmp_path / "shared" / "data").mkdir(parents=True)
    r = subprocess.run(["bash", str(repo / ".ci" / "shared-data.sh")], capture_output=True, text=True)
    assert (r.returncode, r.stdout.strip()) == ((0, str(tmp_path / "shared" / "data")) if present else (1, ""))


def test_ci_exports_it_before_the_test_command():
    run = (ROOT / ".ci" / "run").read_text()
    export = run.index('export S2SR_SHARED_DATA="$shared"')
    assert run.index('if shared="$(.ci/shared-data.sh)"; then') < export < run.index('bash -c "$test_cmd"')
