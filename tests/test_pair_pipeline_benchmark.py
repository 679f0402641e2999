"""``benchmarks/pair_pipeline.py --quick`` runs and writes its JSON (the figures themselves are in BENCHMARKS.md)."""

import importlib.util
import json
import math
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "pair_pipeline.py"


def load_benchmark():
    spec = importlib.util.spec_from_file_location("pair_pipeline_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_writes_every_preset_and_the_device_cost(tmp_path):
    bench = load_benchmark()
    out = tmp_path / "pair_pipeline.json"
    bench.main(["--quick", "--presets", "cifar,byol,multicrop", "--small-views", "1", "--device-presets", "cifar",
                "--out", str(out)])
    results = json.loads(out.read_text())
    assert results["settings"]["sizes"] == [16] and results["goal_ratio"] == 3.0
    side = results["sizes"]["16"]
    step = side["step"]["images_per_s"]
    assert step > 0 and math.isclose(side["step"]["seconds_per_step"], side["batch"] / step)
    assert set(side["pipeline"]) == {"cifar", "byol", "multicrop"}
    assert side["pipeline"]["multicrop"]["views"] == 2 + results["settings"]["small_views"]
    assert side["pipeline"]["byol"]["views"] == 2
    for row in side["pipeline"].values():
        assert row["images_per_s"] > 0 and math.isclose(row["ratio_to_step"], row["images_per_s"] / step)
        assert row["meets_goal"] == (row["ratio_to_step"] >= 3.0)
    device = side["device"]
    assert set(device["presets"]) == {"cifar"} and device["mechanism"]
    assert device["presets"]["cifar"]["images_per_s"] > 0


def test_synthetic_images_are_uint8_levels_in_the_unit_interval():
    bench = load_benchmark()
    x = bench.synthetic_images(5, 4)
    assert x.shape == (5, 4, 4, 3) and x.dtype.name == "float32"
    assert x.min() >= 0.0 and x.max() <= 1.0 and x.max() > 0.5
    assert math.isclose(float((x * 255).round().max()), float((x * 255).max()), abs_tol=1e-3)  # uint8 levels
