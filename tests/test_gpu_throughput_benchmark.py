"""``benchmarks/gpu_throughput.py`` runs on a CPU at a tiny size and writes every configuration it was asked for.

The GPU figures themselves are in BENCHMARKS.md; this checks the script's plumbing: the ``kspectral train`` build
path (recipe, dtype policy, XLA flag, ``augment_on``), the images/s bookkeeping and the Lightly prediction.
"""

import importlib.util
import itertools
import json
import math
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_throughput.py"


def load_benchmark():
    spec = importlib.util.spec_from_file_location("gpu_throughput_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_cpu_run_measures_every_configuration(tmp_path):
    bench = load_benchmark()
    out = tmp_path / "gpu_throughput.json"
    bench.main(["--encoder", "conv", "--encoder-widths", "4-8", "--projector", "16-16", "--image-size", "8",
                "--num-images", "32", "--batch-sizes", "8", "--precisions", "bf16", "--jit", "off",
                "--augment-on", "data,device", "--methods", "simclr,vicreg", "--steps", "2", "--warmup", "1",
                "--out", str(out)])
    results = json.loads(out.read_text())
    assert results["benchmark"] == "gpu_throughput" and results["skipped"] == []
    assert results["device"]["kind"] in ("cpu", "gpu") and len(results["load_start"]) == 3
    wanted = set(itertools.product(["simclr", "vicreg"], [8], ["bf16"], ["off"], ["data", "device"]))
    got = {(r["method"], r["batch"], r["precision"], r["jit"], r["augment_on"]) for r in results["rows"]}
    assert got == wanted
    for row in results["rows"]:
        assert row["policy"] == "mixed_bfloat16" and row["xla"] is False and row["replicas"] == 1
        assert row["projector"] == "16-16" and row["optimizer"] == "lars"  # the recipe's optimizer
        assert row["seconds_per_step"] > 0 and row["images_per_s"] > 0 and row["loss_finite"]
        assert row["cpu_seconds_per_step"] > 0 and len(row["load"]) == 3
        assert math.isclose(row["images_per_s"], row["batch"] / row["seconds_per_step"])
        assert math.isclose(row["views_per_s"], 2 * row["images_per_s"]) and row["views_per_image"] == 2
        assert math.isclose(row["seconds_per_step"] * row["steps"], row["timed_s"])
        assert row["timed_s"] < row["fit_s"]  # the warm-up step (tracing) is outside the timed part
        # 200 epochs × ⌊50 000 / 8⌋ steps at this step time
        assert math.isclose(row["lightly_predicted_min"], 200 * 6250 * row["seconds_per_step"] / 60)
        assert math.isclose(row["lightly_ratio"], row["lightly_predicted_min"] / 87.1)
    # Lightly's reference rate: 200 × 97 batches of 512 images in 87.1 minutes
    assert math.isclose(results["lightly_images_per_s"], 200 * 97 * 512 / (87.1 * 60))


def test_lightly_prediction_counts_full_batches():
    bench = load_benchmark()
    assert math.isclose(bench.lightly_prediction(0.1, 512), 200 * 97 * 0.1 / 60)
    assert math.isclose(bench.lightly_prediction(1.0, 256), 200 * 195 / 60)
    x = bench.synthetic_cifar(4, 6)
    assert x.shape == (4, 6, 6, 3) and x.dtype.name == "float32" and 0.0 <= x.min() and x.max() <= 1.0
    assert math.isclose(float((x * 255).round().max()), float((x * 255).max()), abs_tol=1e-3)  # uint8 levels
