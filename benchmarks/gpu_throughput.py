"""Benchmark: training images/s of VICReg and SimCLR with a CIFAR ResNet-18, by batch size, precision, XLA and where
the augmentation runs.

Issue 10, "Benchmarks" item 3, meant for a GPU; it detects the absence of one and then runs on the CPU (labelled so).

What one configuration is: ``(method, batch, precision, jit, augment_on)``, built exactly as ``kspectral train``
builds its run (``kspectral.runs``): the config is the shipped CIFAR-10 recipe of the method
(``simclr_resnet18_bs256-1000e_cifar10``: SimCLR, Chen et al. 2020, arXiv:2002.05709, projector 2048-256,
temperature 0.2; ``vicreg_resnet18_bs256-1000e_cifar10``: VICReg, Bardes, Ponce & LeCun 2022, arXiv:2105.04906,
projector 2048-2048-2048; both ResNet-18 with the CIFAR stem, He et al. 2016, arXiv:1512.03385; LARS with warm-up
and cosine), with ``batch_size``, ``precision`` (``fp32`` = Keras policy ``float32``, ``bf16`` = ``mixed_bfloat16``,
``fp16`` = ``mixed_float16``), ``jit`` (``on``/``off``: ``compile(jit_compile=...)``, i.e. XLA) and ``augment_on``
overridden, and the online probe off (no labels). The model comes from :func:`kspectral.runs.workflows.build_model`
inside :func:`kspectral.runs.execution.building` (the run's strategy and dtype policy), the input from
:func:`kspectral.runs.problem.training_pairs` (the resumable stream ``kspectral train`` fits on):

- ``augment_on = "data"``: :func:`kspectral.data.augmented_pairs` with the ``cifar`` preset, in ``tf.data`` on the
  host's CPU cores (batches augmented one after the other, prefetched);
- ``augment_on = "device"``: :func:`kspectral.data.pairs.image_batches` of raw images, and the model draws both views
  with its ``augmenters`` (the ``cifar`` preset) inside the train step, on the accelerator.

Data: synthetic CIFAR-shaped images, uniform random ``uint8`` (``--num-images``, default 16 384, ``32×32×3``)
converted to float32 in ``[0, 1]`` as ``kspectral.data.load`` does, in an
:class:`~kspectral.data.datasets.ImageDataset` with no labels.

Timing: one ``fit()`` call of ``--warmup + --steps`` steps per configuration; a callback reads the loss (a device
sync) at the end of the last warm-up step and at the end of the last step, and the timed part is between them, so
tracing, XLA compilation, the pipeline's start-up and the warm-up steps are not counted (the first step's time, which
includes tracing and compilation, is reported as ``first_step_s``). Configurations run one after the other, each
after ``keras.backend.clear_session()``; the JSON is rewritten after each one, so an interrupted run keeps what it
measured. ``--budget-s`` stops starting new configurations past that many seconds (the rest are listed as skipped).

Reported per configuration: seconds per step (and the process's CPU seconds per step, all threads: the host's work,
whatever else runs on a shared machine), ``images_per_s`` = source images per second (each image gives 2 views,
the two augmentations of a pair; ``views_per_s`` = 2 × that, the images the encoder sees), the final loss, and the
predicted time of Lightly's reference run at this rate: 200 epochs of CIFAR-10's 50 000 training images, i.e.
``200 × ⌊50 000 / batch⌋`` steps (full batches only). Lightly's published figure (``lightly`` ``benchmarks.rst``,
SimCLR, ResNet-18 with the CIFAR stem, batch 512, 200 epochs, one RTX A6000: 87.1 min, which includes a kNN
evaluation each epoch; ``/work/shared/spec/anchors.md`` §2 derives about 1.9k images/s) is compared with the
``simclr`` batch-512 rows; for other rows the prediction is the same workload at their batch size.

Usage (on a GPU machine). The full grid is 32 configurations; XLA compiles each train step anew, so it is split into
commands that should each take under 10 minutes on one H100 (``--budget-s`` stops a command that runs long), in order
of priority, the first being the Lightly comparison::

    python benchmarks/gpu_throughput.py --methods simclr --batch-sizes 512 --budget-s 420 \\
        --out benchmarks/results/gpu_throughput_simclr512.json
    python benchmarks/gpu_throughput.py --methods simclr --batch-sizes 256 --budget-s 420 \\
        --out benchmarks/results/gpu_throughput_simclr256.json
    python benchmarks/gpu_throughput.py --methods vicreg --batch-sizes 512 --budget-s 420 \\
        --out benchmarks/results/gpu_throughput_vicreg512.json
    python benchmarks/gpu_throughput.py --methods vicreg --batch-sizes 256 --budget-s 420 \\
        --out benchmarks/results/gpu_throughput_vicreg256.json

A small CPU run (no GPU)::

    python benchmarks/gpu_throughput.py --batch-sizes 32 --jit off --steps 3 --warmup 2 \\
        --out /tmp/kspectral_bench/gpu_throughput_cpu.json

Not a test: timings depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import itertools
import json
import os
import platform
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

METHODS = ("simclr", "vicreg")
RECIPES = {"simclr": "simclr_resnet18_bs256-1000e_cifar10", "vicreg": "vicreg_resnet18_bs256-1000e_cifar10"}
PRECISIONS = ("fp32", "bf16", "fp16")
AUGMENT_ON = ("data", "device")
JIT = ("off", "on")
VIEWS = 2  # each source image gives two augmented views

#: Lightly's CIFAR-10 benchmark (benchmarks.rst; anchors.md §2): SimCLR, ResNet-18 (CIFAR stem), batch 512,
#: 200 epochs of the 50 000 training images on one RTX A6000, 87.1 minutes (a kNN evaluation each epoch included)
LIGHTLY = {"method": "simclr", "batch": 512, "epochs": 200, "images": 50_000, "minutes": 87.1, "gpu": "RTX A6000",
           "source": "lightly-ai/lightly benchmarks.rst (CIFAR-10 table); /work/shared/spec/anchors.md §2"}


def synthetic_cifar(n, side=32, seed=0):
    """``n`` random CIFAR-shaped images: uniform ``uint8`` converted to float32 in ``[0, 1]``."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, side, side, 3), dtype=np.uint8).astype(np.float32) / 255.0


def lightly_prediction(seconds_per_step, batch):
    """Minutes for Lightly's reference workload (200 epochs of 50 000 images, full batches) at this step time."""
    steps = LIGHTLY["epochs"] * (LIGHTLY["images"] // batch)
    return steps * seconds_per_step / 60.0


def device_info():
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    names = []
    for gpu in gpus:
        try:
            names.append(tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name))
        except Exception:  # noqa: BLE001 - details are optional
            names.append(gpu.name)
    return {"kind": "gpu" if gpus else "cpu", "gpus": names, "cpu_count": os.cpu_count()}


def step_clock(warmup):
    """A callback that records the wall-clock time at the end of the first step, of the last warm-up step and of the
    last step, each after a device sync (the loss is read back to the host)."""
    import keras

    class StepClock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.marks = {}
            self.cpu = {}

        def _mark(self, name, logs):
            loss = (logs or {}).get("loss")
            if loss is not None:
                float(np.asarray(loss))  # waits for the device
            self.marks[name] = time.perf_counter()
            self.cpu[name] = time.process_time()

        def on_train_begin(self, logs=None):
            self.marks["begin"] = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            if batch == 0:
                self._mark("first", logs)
            if batch == warmup - 1:
                self._mark("warm", logs)

        def on_epoch_end(self, epoch, logs=None):
            self._mark("end", logs)

    return StepClock()


def build_run(method, batch, precision, jit, augment_on, args, x):
    """The model and input pipeline of ``kspectral train`` for one configuration."""
    from kspectral.data.datasets import ImageDataset
    from kspectral.runs.config import resolve_config, with_defaults
    from kspectral.runs.execution import building, prepare
    from kspectral.runs.problem import training_pairs
    from kspectral.runs.workflows import build_model

    overrides = {"batch_size": batch, "precision": precision, "jit": jit, "augment_on": augment_on,
                 "online_probe": False, "encoder": args.encoder, "encoder_widths": args.encoder_widths,
                 "projector": args.projector, "tensorboard": False}
    if not args.encoder.startswith("resnet"):
        overrides["stem"] = "auto"  # the recipes' "cifar" stem applies to ResNets only
    config = with_defaults(resolve_config(RECIPES[method], **overrides).validate())
    dataset = ImageDataset(name="synthetic-cifar10", x_train=x, y_train=None, x_test=None, y_test=None,
                           num_classes=None, default_augment="cifar", source="synthetic uint8 images")
    execution = prepare(config)
    with building(execution):
        model = build_model(config, dataset, steps=max(len(x) // batch, 1), jit_compile=execution.jit_compile)
    pipeline = training_pairs(config, dataset, None, start_step=0)
    return config, execution, model, pipeline


def run_configuration(method, batch, precision, jit, augment_on, args, x):
    import keras

    config, execution, model, pipeline = build_run(method, batch, precision, jit, augment_on, args, x)
    clock = step_clock(args.warmup)
    start = time.perf_counter()
    history = model.fit(pipeline, steps_per_epoch=args.warmup + args.steps, epochs=1, verbose=0, callbacks=[clock])
    total = time.perf_counter() - start
    seconds = clock.marks["end"] - clock.marks["warm"]
    per_step = seconds / args.steps
    loss = float(history.history["loss"][-1])
    row = {
        "method": method, "batch": batch, "precision": precision, "jit": jit, "augment_on": augment_on,
        "policy": execution.policy, "xla": execution.jit_compile, "replicas": execution.replicas,
        "encoder": config.encoder, "encoder_widths": config.encoder_widths, "projector": config.projector,
        "optimizer": config.optimizer,
        "steps": args.steps, "warmup": args.warmup,
        "timed_s": seconds, "seconds_per_step": per_step,
        "cpu_seconds_per_step": (clock.cpu["end"] - clock.cpu["warm"]) / args.steps,
        "images_per_s": batch / per_step, "views_per_s": VIEWS * batch / per_step, "views_per_image": VIEWS,
        "first_step_s": clock.marks["first"] - clock.marks["begin"], "fit_s": total,
        "loss": loss, "loss_finite": bool(np.isfinite(loss)),
        "lightly_predicted_min": lightly_prediction(per_step, batch),
    }
    row["lightly_ratio"] = row["lightly_predicted_min"] / LIGHTLY["minutes"]
    del model, pipeline, history
    keras.backend.clear_session()
    gc.collect()
    return row


def markdown(results):
    lines = [f"Device: {results['device']['kind'].upper()} "
             f"({', '.join(results['device']['gpus']) or str(results['device']['cpu_count']) + ' CPU cores'}); "
             f"images/s = source images (2 views each); Lightly: SimCLR, ResNet-18, batch 512, 200 epochs of "
             f"CIFAR-10 = {LIGHTLY['minutes']} min on an {LIGHTLY['gpu']}.", "",
             "| method | batch | precision | XLA | augment on | ms / step | images/s | views/s | host CPU s / step | "
             "first step s | predicted 200 epochs, min | vs Lightly | load |",
             "|---|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results["rows"]:
        lines.append(f"| {r['method']} | {r['batch']} | {r['precision']} | {r['jit']} | {r['augment_on']} | "
                     f"{1e3 * r['seconds_per_step']:.1f} | {r['images_per_s']:,.1f} | {r['views_per_s']:,.1f} | "
                     f"{r['cpu_seconds_per_step']:.2f} | {r['first_step_s']:.1f} | {r['lightly_predicted_min']:,.1f} | "
                     f"{r['lightly_ratio']:.2f}× | {r.get('load', [float('nan')])[0]:.1f} |")
    for s in results["skipped"]:
        lines.append(f"| {s['method']} | {s['batch']} | {s['precision']} | {s['jit']} | {s['augment_on']} | "
                     f"{s['status']} | | | | | | | |")
    return "\n".join(lines)


def _split(text, allowed, what, parser, cast=str):
    values = [cast(v.strip()) for v in text.split(",") if v.strip()]
    bad = [v for v in values if allowed is not None and v not in allowed]
    if bad or not values:
        parser.error(f"unknown {what} {bad or values}; choose from {', '.join(map(str, allowed))}")
    return values


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", default="simclr,vicreg", help=f"comma-separated, from {', '.join(METHODS)}")
    parser.add_argument("--batch-sizes", default="256,512", help="comma-separated batch sizes (source images)")
    parser.add_argument("--precisions", default="fp32,bf16", help=f"comma-separated, from {', '.join(PRECISIONS)}")
    parser.add_argument("--jit", default="off,on", help="comma-separated, from off, on (XLA)")
    parser.add_argument("--augment-on", default="data,device", help="comma-separated, from data, device")
    parser.add_argument("--steps", type=int, default=50, help="timed steps per configuration")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps first (tracing, compilation)")
    parser.add_argument("--image-size", type=int, default=32, help="image side in pixels")
    parser.add_argument("--num-images", type=int, default=16384, help="synthetic images in memory")
    parser.add_argument("--encoder", default="resnet18", help="encoder name (kspectral.encoders.build_encoder)")
    parser.add_argument("--encoder-widths", default=None, help="encoder widths (default: the encoder's own)")
    parser.add_argument("--projector", default=None, help="projector widths (default: the recipe's)")
    parser.add_argument("--budget-s", type=float, default=0.0, help="start no configuration past this (0: no limit)")
    parser.add_argument("--out", default="gpu_throughput.json", help="JSON file to write")
    args = parser.parse_args(argv)
    methods = _split(args.methods, METHODS, "method", parser)
    batches = _split(args.batch_sizes, None, "batch size", parser, int)
    precisions = _split(args.precisions, PRECISIONS, "precision", parser)
    jits = _split(args.jit, JIT, "jit", parser)
    places = _split(args.augment_on, AUGMENT_ON, "augment_on", parser)
    if args.steps < 1 or args.warmup < 1:
        parser.error("--steps and --warmup must be at least 1 (the first step traces and compiles)")
    if min(batches) < 2 or max(batches) > args.num_images:
        parser.error("batch sizes must lie in [2, --num-images]")

    import keras
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    started = time.perf_counter()
    results = {
        "benchmark": "gpu_throughput",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "python benchmarks/gpu_throughput.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "device": device_info(),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "tensorflow": tf.__version__, "keras": keras.__version__},
        "load_start": list(os.getloadavg()),
        "settings": {"methods": methods, "batch_sizes": batches, "precisions": precisions, "jit": jits,
                     "augment_on": places, "steps": args.steps, "warmup": args.warmup,
                     "image_size": args.image_size, "num_images": args.num_images, "encoder": args.encoder,
                     "encoder_widths": args.encoder_widths, "projector": args.projector, "augment": "cifar",
                     "recipes": {m: RECIPES[m] for m in methods}},
        "lightly": LIGHTLY,
        "lightly_images_per_s": LIGHTLY["epochs"] * (LIGHTLY["images"] // LIGHTLY["batch"]) * LIGHTLY["batch"]
        / (60 * LIGHTLY["minutes"]),
        "rows": [],
        "skipped": [],
    }
    x = synthetic_cifar(args.num_images, args.image_size)

    def write():
        results["seconds"] = round(time.perf_counter() - started, 1)
        results["load_end"] = list(os.getloadavg())
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)

    for method, batch, precision, jit, place in itertools.product(methods, batches, precisions, jits, places):
        config = {"method": method, "batch": batch, "precision": precision, "jit": jit, "augment_on": place}
        if args.budget_s and time.perf_counter() - started > args.budget_s:
            results["skipped"].append({**config, "status": "skipped (budget)"})
            continue
        try:
            row = run_configuration(method, batch, precision, jit, place, args, x)
        except Exception as exc:  # noqa: BLE001 - e.g. out of memory: record it and go on
            keras.backend.clear_session()
            gc.collect()
            results["skipped"].append({**config, "status": f"failed: {type(exc).__name__}: {str(exc)[:200]}"})
            print(f"{config}: failed: {exc!r}"[:400], file=sys.stderr, flush=True)
            write()
            continue
        row["load"] = list(os.getloadavg())
        results["rows"].append(row)
        print(f"{method:6s} b{batch:<4d} {precision:4s} xla-{jit:3s} {place:6s} {1e3 * row['seconds_per_step']:9.1f} "
              f"ms/step {row['images_per_s']:9.1f} images/s (first step {row['first_step_s']:.1f} s)",
              file=sys.stderr, flush=True)
        write()
    write()
    print(markdown(results))
    return results


if __name__ == "__main__":
    main()
