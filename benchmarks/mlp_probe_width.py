"""Benchmark: the MLP probe's cost and top-1 at 2×512 units against Dubois et al.'s 2×2048 (``kspectral.probes.mlp_probe``).

The data: 1 200 random 8×8 RGB patches of scikit-learn's two sample photos (600 per photo), labelled by photo,
flattened to 192 features; 1 000 training and 200 test rows (``tests/real_data.py: sample_patches``). Each width
trains the probe's full protocol (100 epochs, batch 512, SGD 0.3 with cosine decay) once per seed; the wall-clock
time of each fit and its test top-1 go to ``--out`` as JSON and to the screen. The figures of ``mlp_probe``'s
docstring and of ``BENCHMARKS.md`` come from this script.

Usage::

    python benchmarks/mlp_probe_width.py --seeds 0 1 --out /tmp/kspectral_bench/mlp_probe_width.json

Not a test: timings depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[512, 2048])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from real_data import sample_patches

    from kspectral.probes import mlp_probe

    x, y = sample_patches(size=8, per_image=600)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x.reshape(len(x), -1)[order], y[order]
    data = (x[:1000], y[:1000], x[1000:], y[1000:])
    rows = []
    for seed in args.seeds:
        for hidden in args.widths:
            started = time.perf_counter()
            top1 = mlp_probe(*data, hidden=hidden, seed=seed)
            seconds = time.perf_counter() - started
            rows.append({"hidden": hidden, "seed": seed, "top1": round(float(top1), 4), "seconds": round(seconds, 1)})
            print(f"hidden={hidden:5d} seed={seed}: top-1 {top1:.3f} in {seconds:.1f} s", flush=True)
    result = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(), "rows": rows}
    for seed in args.seeds:
        by_width = {r["hidden"]: r for r in rows if r["seed"] == seed}
        if 512 in by_width and 2048 in by_width:
            ratio = by_width[2048]["seconds"] / by_width[512]["seconds"]
            print(f"seed {seed}: 2048 units take {ratio:.1f}× the time of 512")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
