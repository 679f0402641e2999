"""Benchmark: training-step time of fp32 vs bf16 vs fp16 and XLA vs no XLA, for the ``conv`` and ``resnet18`` encoders.

Each configuration trains VICReg (Bardes, Ponce & LeCun 2022, arXiv:2105.04906) through kspectral's ``fit()`` on one
fixed synthetic CIFAR-shaped batch of pairs (``32×32×3``; ``tf.data.Dataset.from_tensors(...).repeat()``, so that no
input pipeline is timed), with a ``"512-512"`` :class:`~kspectral.methods.Projector` and AdamW:

- ``precision``: the Keras dtype policy (``fp32`` = ``float32``, ``bf16`` = ``mixed_bfloat16``, ``fp16`` =
  ``mixed_float16`` with Keras' loss scaling), set before the model is built, as ``kspectral train --precision`` does;
- ``jit``: ``compile(jit_compile=True)`` (XLA) or ``False``, as ``kspectral train --jit/--no-jit``.

Every configuration is built and warmed up once (tracing, XLA compilation), then each round times ``--steps`` steps of
every configuration, in an order that rotates from round to round. Reported: the median seconds per step, images per
second (two views per pair count as two images) and the ratio of each configuration's median step time to the
``fp32`` / no-XLA baseline of the same encoder, measured side by side in the same process. Results go to ``--out`` as
JSON.

Usage::

    python benchmarks/precision_jit.py --rounds 3 --steps 10 --out /tmp/kspectral_bench/precision_jit.json
    python benchmarks/precision_jit.py --quick --out /tmp/precision_jit_quick.json   # a smoke run

Not a test: timings depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from kspectral.runs.execution import POLICIES  # noqa: E402

#: the precisions of ``kspectral train --precision``
PRECISIONS = tuple(POLICIES)
ENCODERS = {"conv": {"batch": 128}, "resnet18": {"batch": 32}}
QUICK = {"image_size": 8, "batch": 8, "widths": {"conv": "4-8", "resnet18": None}, "projector": "16-16"}


def make_batch(image_size, batch, seed=0):
    """A fixed batch of positive pairs of images in ``[0, 1]``: ``x`` and ``x`` plus a little noise."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(size=(batch, image_size, image_size, 3)).astype("float32")
    b = np.clip(a + 0.05 * rng.normal(size=a.shape), 0.0, 1.0).astype("float32")
    return a, b


class Configuration:
    """One (encoder, precision, jit) model, built under its dtype policy and compiled with or without XLA."""

    def __init__(self, encoder, precision, jit, quick, image_size, seed=0):
        import keras

        from kspectral.encoders import build_encoder
        from kspectral.methods import VICReg
        from kspectral.runs.execution import dtype_policy

        with dtype_policy(precision):  # as `kspectral train --precision` builds its model
            keras.utils.set_random_seed(seed)
            widths = QUICK["widths"][encoder] if quick else None
            backbone = build_encoder(encoder, (image_size, image_size, 3), widths)
            self.model = VICReg(encoder=backbone, projector=QUICK["projector"] if quick else "512-512")
            self.model.compile(optimizer=keras.optimizers.AdamW(1e-3), jit_compile=jit)
            self.policy = backbone.dtype_policy.name
        self.history = None

    def run(self, ds, steps):
        self.history = self.model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0).history
        return float(self.history["loss"][-1])


def run_encoder(encoder, rounds, steps, quick, precisions, jits):
    import tensorflow as tf

    image_size = QUICK["image_size"] if quick else 32
    batch = QUICK["batch"] if quick else ENCODERS[encoder]["batch"]
    a, b = make_batch(image_size, batch)
    ds = tf.data.Dataset.from_tensors((a, b)).repeat()
    runners = {}
    for precision in precisions:
        for jit in jits:
            runners[f"{precision}/{'xla' if jit else 'no-xla'}"] = Configuration(encoder, precision, jit, quick,
                                                                               image_size)
    for runner in runners.values():  # trace and compile outside the timings
        runner.run(ds, 2)
    names = list(runners)
    times = {name: [] for name in names}
    losses = {}
    for r in range(rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            start = time.perf_counter()
            losses[name] = runners[name].run(ds, steps)
            times[name].append(time.perf_counter() - start)
            if not np.isfinite(losses[name]):
                raise RuntimeError(f"{encoder} {name}: the loss is not finite ({losses[name]})")
    per_step = {n: statistics.median(t) / steps for n, t in times.items()}
    base = names[0]
    return {
        "batch": batch,
        "image_size": image_size,
        "baseline": base,
        "seconds_per_step": per_step,
        "images_per_s": {n: 2 * batch / s for n, s in per_step.items()},
        "ratio_to_baseline": {n: s / per_step[base] for n, s in per_step.items()},
        "last_loss": losses,
        "encoder_policy": {n: r.policy for n, r in runners.items()},
        "times": times,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (each figure is their median)")
    parser.add_argument("--steps", type=int, default=10, help="training steps per configuration and round")
    parser.add_argument("--encoders", default="conv,resnet18", help=f"comma-separated, from {', '.join(ENCODERS)}")
    parser.add_argument("--precisions", default="fp32,bf16,fp16", help=f"comma-separated, from {', '.join(PRECISIONS)}")
    parser.add_argument("--jit", default="off,on", help="comma-separated, from off, on (XLA)")
    parser.add_argument("--threads", type=int, default=0,
                        help="TensorFlow intra- and inter-op threads (0 = TensorFlow's default, all cores)")
    parser.add_argument("--quick", action="store_true", help="tiny images and models, for a smoke run")
    parser.add_argument("--out", default="precision_jit.json", help="JSON file to write")
    args = parser.parse_args(argv)
    encoders = [e.strip() for e in args.encoders.split(",") if e.strip()]
    precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
    jits = [j.strip() for j in args.jit.split(",") if j.strip()]
    for name, values, allowed in (("encoder", encoders, ENCODERS), ("precision", precisions, PRECISIONS),
                                  ("jit", jits, ("off", "on"))):
        unknown = [v for v in values if v not in allowed]
        if unknown or not values:
            parser.error(f"unknown {name} {unknown or values}; choose from {', '.join(allowed)}")

    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # each configuration traces its own train step: retracing notices are expected
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    import keras

    results = {
        "benchmark": "precision_jit",
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
                    "gpus": len(tf.config.list_physical_devices("GPU")), "python": sys.version.split()[0],
                    "tensorflow": tf.__version__, "keras": keras.__version__},
        "settings": {"rounds": args.rounds, "steps": args.steps, "quick": args.quick, "threads": args.threads,
                     "precisions": precisions, "jit": jits},
        "encoders": {},
    }
    for encoder in encoders:
        results["encoders"][encoder] = run_encoder(encoder, args.rounds, args.steps, args.quick, precisions,
                                                   [j == "on" for j in jits])
        row = results["encoders"][encoder]
        for name, seconds in row["seconds_per_step"].items():
            print(f"{encoder:9s} {name:13s} {seconds * 1e3:9.1f} ms/step {row['images_per_s'][name]:8.1f} img/s "
                  f"×{row['ratio_to_baseline'][name]:.2f}", flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
