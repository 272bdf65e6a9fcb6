"""The fault catalogue's machinery: tiny real inputs, a fresh workspace per case, and the checks.

Every case runs the real CLI (``s2sr.cli.main.main``, in-process so the catalogue stays fast)
in a workspace holding copies of the inputs it needs, with stdout and stderr captured at the
file-descriptor level (so GDAL/libtiff writes to fd 2 are seen too), and asserts:

* exit code 2, nothing on stdout, exactly one line on stderr, ``s2sr CMD: error: ...``, no
  traceback, and the line names the file (or option) at fault;
* no leftovers: the workspace holds exactly the paths it held before (a case may allow a
  few, e.g. a training run folder with complete files), and no temporary name anywhere;
* the inputs are byte-identical (sha256 of every file present before).

"Disk full" runs on a small tmpfs where root may mount one; elsewhere a fault-injecting writer
is used instead: the command runs in a child process whose file-size limit (RLIMIT_FSIZE) makes
the kernel fail every write past a few KiB (EFBIG), the same code paths as ENOSPC. "Unwritable"
is a read-only tmpfs as root (root ignores file modes), else a folder of mode 0555.
"""

from __future__ import annotations

import hashlib
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from s2sr.cli.main import main

BANDS = ["B2", "B3", "B4", "B8"]
FORCE_WRITER = "S2SR_FAULTS_NO_TMPFS"  # set to 1 to use the fault-injecting writer even as root
FSIZE_LIMIT = 8 * 1024  # bytes a child may write per file in the fault-injecting writer
CLI = "import sys\nfrom s2sr.cli.main import main\nsys.exit(main(sys.argv[1:]))\n"


# ---- inputs, built once per session ------------------------------------------------------------

def _bundle(arch: str, path: Path, **kw: object) -> Path:
    from s2sr.archs import build_arch
    from s2sr.bundle import ModelBundle
    from s2sr.sensor import SensorModel

    kwargs = {"in_ch": 4, "scale": 4, **kw}
    return ModelBundle(arch=arch, arch_kwargs=kwargs, scale=4, bands=list(BANDS), mean=np.full(4, 1500, np.float32),
                       std=np.full(4, 700, np.float32), module=build_arch(arch, **kwargs).eval(),
                       sensor=SensorModel(4), input_res=10.0, input_dtype="uint16").save(path)


class _Evil:
    """Unpickling this runs a shell command that creates ``marker``: a malicious model file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="session")
def originals(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny real inputs: a synthetic pair (LR 128 px at 10 m, HR 512 px), models, a patch store."""
    import torch

    d = tmp_path_factory.mktemp("originals")
    assert main(["-q", "synth", str(d / "pair"), "--size", "512"]) == 0
    assert main(["-q", "prepare", "--lr", str(d / "pair" / "lr.tif"), "--hr", str(d / "pair" / "hr.tif"),
                 "--scale", "4", "--patch-size", "8", "--max-patches", "48", "--out", str(d / "ds")]) == 0
    _bundle("bicubic", d / "model.pt")
    _bundle("light", d / "light.pt", width=32, depth=2)
    assert main(["-q", "export", str(d / "model.pt"), str(d / "model.onnx")]) == 0
    torch.save({"format": "s2sr-model", "arch": _Evil(d / "PWNED")}, d / "evil.pt")
    (d / "tiny.json").write_text('{"model": {"arch": "light", "kwargs": {"width": 8, "depth": 1}}, "run": '
                                 '{"batch_size": 4, "max_steps": 4, "val_every": 2, "val_patches": 4, '
                                 '"ckpt_every": 2, "tensorboard": false}}')
    (d / "notes.txt").write_text("not a raster, not a model\n")
    return d


# ---- one case ------------------------------------------------------------------------------------

@dataclass
class Workspace:
    """A fresh folder with copies of the inputs a case uses."""

    root: Path
    originals: Path
    mounts: list[Path] = field(default_factory=list)

    def copy(self, name: str, as_name: str | None = None) -> Path:
        src, dst = self.originals / name, self.root / (as_name or name)
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copyfile(src, dst)
        return dst

    def file(self, name: str, data: bytes) -> Path:
        p = self.root / name
        p.write_bytes(data)
        return p

    def truncated(self, name: str, as_name: str) -> Path:
        data = (self.originals / name).read_bytes()
        return self.file(as_name, data[: len(data) // 2])

    def mount(self, name: str, options: str) -> Path | None:
        """A tmpfs at ``name`` (None where one cannot be mounted: not root, or forced off)."""
        d = self.root / name
        d.mkdir()
        if os.geteuid() != 0 or os.environ.get(FORCE_WRITER):
            return None
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(d)], capture_output=True)
        if r.returncode:
            return None
        self.mounts.append(d)
        return d

    def unwritable(self, name: str = "locked") -> Path:
        d = self.mount(name, "size=64k,ro")
        if d is None:
            d = self.root / name
            if os.geteuid() == 0:
                pytest.skip("root without a read-only mount cannot make a folder it may not write")
            d.chmod(0o555)
        return d


Argv = list[str]


@dataclass
class Case:
    """``make(ws) -> argv`` (without the leading ``-q``); ``names``: text the error line must contain.

    ``disk_kib``: the command writes to a small disk (``ws.root / "disk"``) of that size.
    ``allow``: paths relative to the workspace that may be left (complete outputs, never temporaries).
    ``marker``: a file that must not exist afterwards (what a malicious model would create).
    """

    id: str
    make: Callable[[Workspace], tuple[Argv, str]]
    disk_kib: int | None = None
    allow: tuple[str, ...] = ()
    marker: str | None = None


def _snapshot(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        out[rel] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return out


def _in_child(argv: Argv) -> tuple[int, str, str]:
    """The fault-injecting writer: the CLI in a child process that may not write files over FSIZE_LIMIT."""
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (FSIZE_LIMIT, FSIZE_LIMIT))

    p = subprocess.run([sys.executable, "-c", CLI, *argv], capture_output=True, text=True, preexec_fn=limit,
                       timeout=300)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture
def run_case(originals: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> Iterator[Callable[[str, Case], None]]:
    """``run_case(command, case)``: build the workspace, run, check everything listed in the module doc."""
    ws = Workspace(tmp_path / "ws", originals)
    ws.root.mkdir()
    saved_handlers = logging.getLogger().handlers[:]

    def _run(command: str, case: Case) -> None:
        disk = None
        if case.disk_kib is not None:
            disk = ws.mount("disk", f"size={case.disk_kib}k")
        argv, names = case.make(ws)
        argv = ["-q", command, *argv]
        before = _snapshot(ws.root)
        marker = originals / "PWNED" if case.marker else None
        if case.disk_kib is not None and disk is None:
            rc, out, err = _in_child(argv)
        else:
            logging.getLogger().handlers.clear()  # main() installs a handler on this case's stderr
            capfd.readouterr()
            rc = main(argv)
            out, err = capfd.readouterr()
        after = _snapshot(ws.root)
        assert rc == 2, err
        assert out == ""
        assert err.count("\n") == 1 and err.endswith("\n"), err
        assert err.startswith(f"s2sr {command}: error: ") and "Traceback" not in err, err
        assert names in err, f"{names!r} not named in {err!r}"
        for rel, digest in before.items():
            assert after.get(rel) == digest, f"input {rel} changed or vanished"
        new = sorted(set(after) - set(before))
        assert not [n for n in new if ".tmp-" in n or n.endswith(".tmp")], new
        assert [n for n in new if not any(n == a or n.startswith(a + "/") for a in case.allow)] == [], new
        if marker is not None:
            assert not marker.exists(), "the malicious model ran code"

    yield _run
    logging.getLogger().handlers[:] = saved_handlers
    for d in ws.mounts:
        subprocess.run(["umount", "-l", str(d)], check=False)
    for p in ws.root.rglob("*"):
        if p.is_dir():
            p.chmod(0o755)
