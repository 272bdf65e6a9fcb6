"""The CLI's stderr: s2sr's own log lines at the chosen level, other libraries' only from WARNING up."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import logging, sys
import s2sr.cli.synth as cmd
from s2sr.cli.main import main

def run(args):
    logging.getLogger("numexpr.utils").info("NumExpr defaulting to 2 threads.")
    dist = logging.getLogger("distributed.scheduler")
    dist.setLevel(logging.INFO)  # as distributed configures itself
    dist.info("State start")
    dist.warning("third-party warning")
    logging.getLogger("matplotlib.font_manager").debug("findfont: score")
    logging.getLogger("s2sr.synth").info("own info")
    logging.getLogger("s2sr.synth").debug("own debug")
    return 0

cmd.run = run
sys.exit(main(sys.argv[1:] + ["synth", "x"]))
"""


def _stderr(*flags: str) -> list[str]:
    p = subprocess.run([sys.executable, "-c", CODE, *flags], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stderr.splitlines()


def test_third_party_info_and_debug_logs_are_not_printed_as_s2sr() -> None:
    assert _stderr() == ["WARNING s2sr: third-party warning", "INFO s2sr: own info"]
    assert _stderr("--debug") == ["WARNING s2sr: third-party warning", "INFO s2sr: own info",
                                  "DEBUG s2sr: own debug"]
    assert _stderr("-q") == ["WARNING s2sr: third-party warning"]
