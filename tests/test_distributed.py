"""Global-batch objectives under tf.distribute: 1 device vs 2 replicas give the same training step."""

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parent / "scripts" / "replica_equivalence.py"


import pytest


@pytest.mark.parametrize("method", ["vicreg", "simclr"])
def test_one_device_equals_two_replicas(method):
    proc = subprocess.run([sys.executable, str(SCRIPT), method], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = re.search(r"weight_diff=(\S+) moved=(\S+) loss_1=(\S+) loss_2=(\S+)", proc.stdout)
    assert found, proc.stdout
    weight_diff, moved, loss_1, loss_2 = map(float, found.groups())
    assert moved > 1e-2  # the step changed the weights ...
    assert weight_diff < 1e-5  # ... identically on 1 device and on 2 replicas
    assert abs(loss_1 - loss_2) < 1e-5 * abs(loss_1)
