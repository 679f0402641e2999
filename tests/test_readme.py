"""Every ```python block of README.md runs alone, as a new user would paste it, and prints what the README says.

Each block runs in a fresh interpreter in an empty folder, with ``KERAS_BACKEND=tensorflow``; it must exit 0 and
write no warning on stderr (TensorFlow's native start-up notices, written by C++ before Python runs, excepted).
The two blocks that train take about 30 s each on 2 CPU cores and are marked slow; the closed-form one is not.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
TEXT = README.read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```python\n(.*?)^```", TEXT, re.S | re.M)

#: TensorFlow's C++ start-up notices (absl / glog lines such as ``I0000 00:00:17.. 123 port.cc:153] oneDNN ...``)
_NATIVE = re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\)|[IWEF]\d{4} [\d:.]+ +\d+ \S+:\d+\]"
                     r"|To enable the following instructions:)")


def _params():
    for i, block in enumerate(BLOCKS):
        marks = [pytest.mark.slow] if ".fit(" in block else []
        yield pytest.param(i, id=f"block{i}", marks=marks)


def _run(index, tmp_path):
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("PYTHONWARNINGS", None)
    script = tmp_path / "block.py"
    script.write_text(BLOCKS[index], encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, f"README block {index} failed:\n{BLOCKS[index]}\n{proc.stderr[-3000:]}"
    noise = [line for line in proc.stderr.splitlines() if "warning" in line.lower() and not _NATIVE.match(line)]
    assert noise == [], f"README block {index} warned:\n" + "\n".join(noise)
    return proc.stdout.strip().splitlines()[-1]


def _numbers(text):
    return [float(v) for v in re.findall(r"[-+]?\d+\.\d+", text)]


def test_readme_has_its_python_examples():
    assert len(BLOCKS) >= 3
    assert any("build_optimizer(\"adamw\"" in b and "WarmupCosine(" in b for b in BLOCKS)
    assert any("model.encoder.save(" in b for b in BLOCKS)


@pytest.mark.parametrize("index", _params())
def test_readme_python_block_runs_alone(index, tmp_path):
    block = BLOCKS[index]
    last = _run(index, tmp_path)
    if "linear probe top-1" in block:  # the Keras example beats raw pixels, by what the README says (±0.015)
        pixels, encoder, gain = _numbers(last)
        assert pixels == pytest.approx(0.9667, abs=1e-3) and gain == pytest.approx(encoder - pixels, abs=1e-3)
        assert gain > 0, last
        quoted = _numbers(re.search(r"prints `linear probe top-1: ([^`]*)`", TEXT).group(1))
        assert encoder == pytest.approx(quoted[1], abs=0.015), (last, quoted)
    elif "model.encoder.save(" in block:  # the exported encoder, frozen and fine-tuned, as the README says
        frozen, tuned = _numbers(last)
        quoted = _numbers(re.search(r"It printed `frozen encoder ([^`]*)`", TEXT).group(1))
        assert frozen == pytest.approx(quoted[0], abs=0.02) and tuned == pytest.approx(quoted[1], abs=0.03), last
        assert (tmp_path / "encoder.keras").is_file()
    elif "class MyMoCo(SSLModel)" in block:  # a user's method: the teacher outside the optimizer, the queue's shape
        name, rest = last.split(" ", 1)
        assert name.startswith("momentum_teacher") and rest == "(4096, 128) 6", last
    elif "linear_vicreg(" in block:
        assert last == "(1437, 16) (360, 16) LinearVICReg"
