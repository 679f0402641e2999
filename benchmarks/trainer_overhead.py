"""Benchmark: the time of kspectral's ``fit()`` over a minimal hand-written ``tf.function`` training step.

Both sides train the same network on the same batch: kspectral's encoder (``mlp_encoder(..., "512-256")`` or
``conv_encoder(...)`` with its default widths) on a digits-like ``8×8×1`` input, a ``"1024-1024"``
:class:`~kspectral.methods.Projector`, the VICReg objective (:func:`kspectral.objectives.vicreg`, Bardes, Ponce &
LeCun 2022, arXiv:2105.04906, default weights 25/25/1), AdamW (learning rate 1e-3) and one fixed synthetic batch
of 256 pairs (``tf.data.Dataset.from_tensors(...).repeat()``, so that no input pipeline is timed).

- ``hand``: ``@tf.function`` computing the two embeddings, the loss, the gradient and the AdamW update, called
  from a Python loop over the dataset. It is compiled with XLA exactly when Keras resolves ``fit()``'s
  ``jit_compile="auto"`` to XLA (``--jit`` overrides both), so that both sides run the same kind of graph.
- ``fit[<diagnostics>]``: ``kspectral.methods.VICReg(...).fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)``
  with the diagnostics at their default cadence (``default``), on every step (``step``, ``diagnostics_every=1``)
  and off (``none``, ``diagnostics=False``).

Every configuration is warmed up once (tracing and compilation), then each round times ``--steps`` steps of every
configuration, in an order that rotates from round to round; the reported ratio is the median over rounds of
``time(fit) / time(hand)`` within the round, for the wall-clock time and, as a check that is less sensitive to
other processes on the machine, for the process's CPU time (``time.process_time``, all threads). Results go to
``--out`` as JSON.

Usage::

    python benchmarks/trainer_overhead.py --rounds 7 --steps 100 --out /tmp/kspectral_bench/trainer_overhead.json
    python benchmarks/trainer_overhead.py --quick --out /tmp/trainer_overhead_quick.json   # a smoke run

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

PRESETS = {
    "mlp": {"encoder": "mlp", "widths": "512-256", "input_shape": (8, 8, 1), "projector": "1024-1024"},
    "convnet": {"encoder": "conv", "widths": "32-64-128", "input_shape": (8, 8, 1), "projector": "1024-1024"},
}
QUICK = {"encoder_widths": {"mlp": "16-8", "conv": "4-8"}, "projector": "16-16", "batch": 16}
DIAGNOSTICS = {"default": {}, "step": {"diagnostics_every": 1}, "none": {"diagnostics": False}}


def make_batch(input_shape, batch, seed=0):
    """A fixed batch of positive pairs: ``x`` and ``x`` plus a little noise."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(batch, *input_shape)).astype("float32")
    b = (a + 0.1 * rng.normal(size=a.shape)).astype("float32")
    return a, b


def build_parts(preset, quick, seed):
    """A fresh (encoder, projector) pair of the preset's architecture."""
    import keras

    from kspectral.encoders import build_encoder
    from kspectral.methods.projector import make_projector

    spec = PRESETS[preset]
    widths = QUICK["encoder_widths"][spec["encoder"]] if quick else spec["widths"]
    keras.utils.set_random_seed(seed)
    encoder = build_encoder(spec["encoder"], spec["input_shape"], widths)
    projector = make_projector(QUICK["projector"] if quick else spec["projector"])
    return encoder, projector


class HandWritten:
    """The minimal training loop: forward both views, VICReg loss, gradient, AdamW update."""

    def __init__(self, preset, quick, jit_compile, seed=0):
        import keras
        import tensorflow as tf

        from kspectral.objectives import vicreg

        self.encoder, self.projector = build_parts(preset, quick, seed)
        shape = (None, *PRESETS[preset]["input_shape"])
        self.projector.build(self.encoder.compute_output_shape(shape))
        self.variables = self.encoder.trainable_variables + self.projector.trainable_variables
        self.optimizer = keras.optimizers.AdamW(1e-3)
        self.optimizer.build(self.variables)

        def step(view_a, view_b):
            with tf.GradientTape() as tape:
                z_a = self.projector(self.encoder(view_a, training=True), training=True)
                z_b = self.projector(self.encoder(view_b, training=True), training=True)
                loss = vicreg(z_a, z_b)
            self.optimizer.apply(tape.gradient(loss, self.variables), self.variables)
            return loss

        self.step = tf.function(step, jit_compile=jit_compile)

    def run(self, ds, steps):
        loss = None
        for view_a, view_b in ds.take(steps):
            loss = self.step(view_a, view_b)
        return float(loss)


class KspectralFit:
    """``kspectral.methods.VICReg(...).fit()`` with the given diagnostics arguments."""

    def __init__(self, preset, quick, jit_compile, diagnostics, seed=0):
        import keras

        from kspectral.methods import VICReg

        encoder, projector = build_parts(preset, quick, seed)
        self.model = VICReg(encoder=encoder, projector=projector, **DIAGNOSTICS[diagnostics])
        self.model.compile(optimizer=keras.optimizers.AdamW(1e-3), jit_compile=jit_compile)
        self.history = None

    def run(self, ds, steps):
        self.history = self.model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False).history
        return float(self.history["loss"][-1])


def resolved_jit(preset, quick, jit):
    """``True``/``False`` for ``--jit on/off``; for ``auto``, what Keras resolves ``fit()``'s default to."""
    if jit != "auto":
        return jit == "on"
    import keras

    from kspectral.methods import VICReg

    encoder, projector = build_parts(preset, quick, 0)
    model = VICReg(encoder=encoder, projector=projector)
    model.compile(optimizer="adamw")
    return bool(model.jit_compile)


def run_preset(preset, rounds, steps, quick, jit, diagnostics):
    import tensorflow as tf

    batch = QUICK["batch"] if quick else 256
    a, b = make_batch(PRESETS[preset]["input_shape"], batch)
    ds = tf.data.Dataset.from_tensors((a, b)).repeat()
    jit_compile = resolved_jit(preset, quick, jit)
    runners = {"hand": HandWritten(preset, quick, jit_compile)}
    for name in diagnostics:
        runners[f"fit[{name}]"] = KspectralFit(preset, quick, jit_compile, name)
    for runner in runners.values():  # trace and compile outside the timings
        runner.run(ds, 2)
    names = list(runners)
    times = {name: [] for name in names}
    cpu_times = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            start, cpu_start = time.perf_counter(), time.process_time()
            loss = runners[name].run(ds, steps)
            times[name].append(time.perf_counter() - start)
            cpu_times[name].append(time.process_time() - cpu_start)
            if not np.isfinite(loss):
                raise RuntimeError(f"{preset} {name}: the loss is not finite ({loss})")
    result = {
        "batch": batch,
        "jit_compile": jit_compile,
        "seconds_per_step": {n: statistics.median(t) / steps for n, t in times.items()},
        "times": times,
        "cpu_times": cpu_times,
        "ratio_median": {},
        "ratios": {},
        "cpu_ratio_median": {},
    }
    for name in names[1:]:
        ratios = [f / h for f, h in zip(times[name], times["hand"])]
        result["ratios"][name] = ratios
        result["ratio_median"][name] = statistics.median(ratios)
        result["cpu_ratio_median"][name] = statistics.median(
            f / h for f, h in zip(cpu_times[name], cpu_times["hand"]))
    last = {name: runners[f"fit[{name}]"].history for name in diagnostics}
    result["diagnostics_logged"] = {
        name: sorted(k for k in history if k in ("embedding_std", "rankme", "sample_contrastive",
                                                   "dimension_contrastive")) for name, history in last.items()
    }
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds (the ratio is their median)")
    parser.add_argument("--steps", type=int, default=100, help="training steps per configuration and round")
    parser.add_argument("--presets", default="mlp,convnet", help=f"comma-separated, from {', '.join(PRESETS)}")
    parser.add_argument("--diagnostics", default="default,step,none",
                        help=f"fit() configurations, comma-separated, from {', '.join(DIAGNOSTICS)}")
    parser.add_argument("--jit", choices=("auto", "on", "off"), default="auto",
                        help="XLA for both sides: auto = what fit() resolves jit_compile='auto' to")
    parser.add_argument("--threads", type=int, default=0,
                        help="TensorFlow intra- and inter-op threads (0 = TensorFlow's default, all cores)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny networks, batch 16, 2 rounds of 3 steps: checks that the script runs")
    parser.add_argument("--out", required=True, help="path of the JSON results")
    args = parser.parse_args(argv)
    presets = [p for p in args.presets.split(",") if p]
    diagnostics = [d for d in args.diagnostics.split(",") if d]
    for p in presets:
        if p not in PRESETS:
            parser.error(f"unknown preset {p!r}; choose from {', '.join(PRESETS)}")
    for d in diagnostics:
        if d not in DIAGNOSTICS:
            parser.error(f"unknown diagnostics setting {d!r}; choose from {', '.join(DIAGNOSTICS)}")
    rounds, steps = (2, 3) if args.quick else (args.rounds, args.steps)
    if rounds < 1 or steps < 1:
        parser.error("--rounds and --steps must be at least 1")

    import keras
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    out = {
        "command": " ".join([os.path.basename(sys.argv[0]), *(sys.argv[1:] if argv is None else argv)]),
        "date": datetime.date.today().isoformat(),
        "rounds": rounds,
        "steps": steps,
        "quick": args.quick,
        "threads": args.threads,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "tensorflow": tf.__version__, "keras": keras.__version__,
                    "load_average_start": os.getloadavg()},
        "presets": {},
    }
    for preset in presets:
        out["presets"][preset] = run_preset(preset, rounds, steps, args.quick, args.jit, diagnostics)
        ratios, cpu = out["presets"][preset]["ratio_median"], out["presets"][preset]["cpu_ratio_median"]
        print(preset, " ".join(f"{k}={v:.3f} (cpu {cpu[k]:.3f})" for k, v in ratios.items()), flush=True)
        out["machine"]["load_average_end"] = os.getloadavg()
        write_json(out, args.out)  # after every preset, so that a long run can be inspected
    return 0


def write_json(out, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
