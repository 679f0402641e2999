"""``benchmarks/precision_jit.py --quick`` runs and writes its JSON (the figures themselves are in BENCHMARKS.md)."""

import importlib.util
import json
import math
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "precision_jit.py"


def test_quick_run_times_each_precision_against_the_fp32_baseline(tmp_path):
    spec = importlib.util.spec_from_file_location("precision_jit_benchmark", BENCHMARK)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "precision_jit.json"
    bench.main(["--quick", "--rounds", "1", "--steps", "2", "--encoders", "conv", "--precisions", "fp32,bf16",
                "--jit", "off", "--out", str(out)])
    results = json.loads(out.read_text())
    row = results["encoders"]["conv"]
    assert row["baseline"] == "fp32/no-xla" and set(row["seconds_per_step"]) == {"fp32/no-xla", "bf16/no-xla"}
    assert row["ratio_to_baseline"]["fp32/no-xla"] == 1.0
    for name, seconds in row["seconds_per_step"].items():
        assert seconds > 0 and math.isclose(row["images_per_s"][name], 2 * row["batch"] / seconds)
        assert math.isfinite(row["last_loss"][name])
    assert row["encoder_policy"] == {"fp32/no-xla": "float32", "bf16/no-xla": "mixed_bfloat16"}
    # the bf16 model kept its loss in float32: a finite loss near fp32's after 4 steps
    assert abs(row["last_loss"]["bf16/no-xla"] - row["last_loss"]["fp32/no-xla"]) < 0.1 * abs(
        row["last_loss"]["fp32/no-xla"])
