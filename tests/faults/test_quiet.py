"""Nothing but the one error line on stderr: no library warning from s2sr's own code paths."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import warnings
warnings.simplefilter("error")
import torch
from s2sr.sensor import SensorModel
y = SensorModel(4).degrade_torch(torch.zeros(1, 2, 16, 16))
assert tuple(y.shape) == (1, 2, 4, 4)
"""


def test_sensor_degrade_torch_prints_no_warning() -> None:
    """Found by the fault catalogue (fault-injecting writer, in a child process): every `s2sr train`
    printed torch's "The given NumPy array is not writable" UserWarning (once per process) on stderr."""
    p = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stderr == "", p.stderr
