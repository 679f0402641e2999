"""Benchmark: the training-step time of each method beside SimCLR's, on the same encoder and batch.

Every method is built by ``kspectral.methods.create(name, encoder, projector=...)`` on a fresh copy of one encoder
(``--encoder conv`` by default: ``conv_encoder((32, 32, 3), "32-64-128")``, or ``resnet18`` with the CIFAR stem),
with its default heads, ``diagnostics=False``, and compiled with SGD (learning rate 0.01; the step's optimizer is
not what is compared). One fixed synthetic batch of ``--batch`` pairs of 32×32×3 images
(``tf.data.Dataset.from_tensors(...).repeat()``, so no input pipeline is timed) is trained with ``fit()``: each
method is warmed up once (tracing), then each round times ``--steps`` steps of every method, in an order that
rotates from round to round. Reported: the median over rounds of the milliseconds per step, and its ratio to
SimCLR's in the same round (wall clock and process CPU time). A momentum teacher adds one forward pass of the
teacher per view and an EMA of its weights; a queue or prototypes add a matrix product against their rows.

Usage::

    python benchmarks/method_step_time.py --rounds 5 --steps 20 --out /tmp/kspectral_bench/method_step_time.json
    python benchmarks/method_step_time.py --quick          # a smoke run (2 rounds of 2 steps, batch 16)

Not a test: timings depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

METHODS = ("simclr", "vicreg", "byol", "simsiam", "mocov2", "mocov3", "nnclr", "dino", "swav")
BASELINE = "simclr"


def build(name, encoder_kind, projector, predictor_hidden=None, seed=0):
    import inspect

    import keras

    from kspectral import methods
    from kspectral.encoders import build_encoder

    keras.utils.set_random_seed(seed)
    widths = "32-64-128" if encoder_kind == "conv" else None
    encoder = build_encoder(encoder_kind, (32, 32, 3), widths) if widths else build_encoder(encoder_kind, (32, 32, 3))
    options = {}
    if predictor_hidden is not None and "predictor_hidden" in inspect.signature(methods.get(name).__init__).parameters:
        options["predictor_hidden"] = predictor_hidden
    model = methods.create(name, encoder, projector=projector, diagnostics=False, **options)
    model.compile(optimizer=keras.optimizers.SGD(0.01))
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--encoder", default="conv", choices=("conv", "resnet18"))
    parser.add_argument("--projector", default="512-128")
    parser.add_argument("--predictor-hidden", type=int, default=None,
                        help="the predictor's hidden width of the methods that have one (default: each method's own, "
                             "4096 for BYOL, MoCo v3 and NNCLR); e.g. the projector's width, to compare the rest")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.steps, args.batch = 2, 2, 16
    import tensorflow as tf

    names = [n for n in args.methods.split(",") if n]
    if BASELINE not in names:
        names.insert(0, BASELINE)
    rng = np.random.default_rng(0)
    a = rng.random((args.batch, 32, 32, 3), dtype=np.float32)
    b = np.clip(a + 0.05 * rng.normal(size=a.shape), 0, 1).astype("float32")
    ds = tf.data.Dataset.from_tensors((a, b)).repeat()
    models = {}
    for name in names:
        models[name] = build(name, args.encoder, args.projector, args.predictor_hidden)
        models[name].fit(ds, steps_per_epoch=2, epochs=1, verbose=0)  # trace and warm up
    wall = {n: [] for n in names}
    cpu = {n: [] for n in names}
    for r in range(args.rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            w0, c0 = time.perf_counter(), time.process_time()
            models[name].fit(ds, steps_per_epoch=args.steps, epochs=1, verbose=0)
            wall[name].append(1e3 * (time.perf_counter() - w0) / args.steps)
            cpu[name].append(1e3 * (time.process_time() - c0) / args.steps)
    rows = []
    for name in names:
        ratio_wall = statistics.median(w / b for w, b in zip(wall[name], wall[BASELINE]))
        ratio_cpu = statistics.median(c / b for c, b in zip(cpu[name], cpu[BASELINE]))
        rows.append({"method": name, "ms_per_step": round(statistics.median(wall[name]), 1),
                     "cpu_ms_per_step": round(statistics.median(cpu[name]), 1),
                     "ratio_to_simclr": round(ratio_wall, 3), "cpu_ratio_to_simclr": round(ratio_cpu, 3)})
        print(f"{name:10s} {rows[-1]['ms_per_step']:8.1f} ms/step  ×{ratio_wall:.3f} of simclr "
              f"(cpu ×{ratio_cpu:.3f})", flush=True)
    result = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
              "encoder": args.encoder, "projector": args.projector, "predictor_hidden": args.predictor_hidden,
              "batch": args.batch, "rounds": args.rounds,
              "steps": args.steps, "load_average": os.getloadavg(), "rows": rows}
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
