"""Benchmark: how fast the ``tf.data`` pair pipeline makes augmented pairs, against how fast a train step eats them.

Three measurements in one process, at each image side (32 px and 96 px by default):

- ``pipeline[preset]``: source images per second out of
  ``kspectral.data.augmented_pairs(x, kspectral.data.augmenter(preset, image_size=side, seed=0), batch_size)`` for
  every augmentation preset (``simclr``, ``cifar``, ``byol``, ``vicreg``, solo-learn's ``solo_symmetric``,
  ``solo_asymmetric`` and ``solo_vicreg``, ``digits``, ``multicrop``: two large views and ``--small-views`` small
  ones), over synthetic RGB images (uniform ``uint8`` converted to ``float32`` in
  ``[0, 1]``, in memory). One image makes one pair (``multicrop``: one tuple of ``2 + V`` views). Measured with the
  pipeline's defaults (``deterministic=True``: batches augmented one after the other, so that a seed reproduces
  the views) and, with ``--parallel``, also with ``deterministic=False`` (batches augmented in parallel).
- ``step``: images per second of the train step of VICReg (Bardes, Ponce & LeCun 2022, arXiv:2105.04906) with the
  ``conv`` encoder (``kspectral.encoders.build_encoder("conv", (side, side, 3))``, widths 32-64-128) and a
  ``"512-512"`` projector, AdamW, through ``fit()`` on one pre-made batch of pairs repeated (no input pipeline).
- ``device``: the cost of ``augment_on = "device"`` on this CPU: the step with the augmentation inside it,
  ``VICReg(..., augmenters=...)`` fitted on one batch of raw images repeated, against ``step``.

``ratio = pipeline / step`` at the same side; the goal of issue 8 is ``ratio ≥ 3`` (the pipeline must not starve
the step). Every configuration is warmed up first (tracing); each round times ``--steps`` batches of every
configuration (a pipeline's prefetched batches are drained before its timer starts, so that it is timed at its
steady rate), and the median over ``--rounds`` rounds is reported. Results go to ``--out`` as JSON and a
Markdown table is printed.

Usage::

    python benchmarks/pair_pipeline.py --out /tmp/kspectral_bench/pair_pipeline.json
    python benchmarks/pair_pipeline.py --quick --out /tmp/pair_pipeline_quick.json   # a smoke run (seconds)

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

PRESETS = ("simclr", "cifar", "byol", "vicreg", "solo_symmetric", "solo_asymmetric", "solo_vicreg", "digits",
           "multicrop")
FULL = {"sizes": (32, 96), "batch": 256, "steps": None, "rounds": 3, "images": 4096, "widths": "32-64-128",
        "projector": "512-512"}
QUICK = {"sizes": (16,), "batch": 16, "steps": 2, "rounds": 1, "images": 64, "widths": "4-8", "projector": "16-16"}
GOAL = 3.0


def synthetic_images(n, side, seed=0):
    """``n`` random RGB images, ``uint8`` converted to ``float32`` in ``[0, 1]``, shape ``(n, side, side, 3)``."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, side, side, 3), dtype=np.uint8).astype(np.float32) / 255.0


def build_augmenters(preset, side, small_views, seed=0):
    """The preset's augmenter(s) as a tuple, one per view (a single augmenter serves both views)."""
    from kspectral.data import augmenter

    options = {"n_small": small_views} if preset == "multicrop" else {}
    built = augmenter(preset, image_size=side, seed=seed, **options)
    return tuple(built) if isinstance(built, (tuple, list)) else (built, built)


def median_rate(times, images):
    """Images per second of the median round."""
    return images / statistics.median(times)


class Pipeline:
    """Batches of views out of :func:`kspectral.data.augmented_pairs`."""

    def __init__(self, x, preset, side, batch, small_views, deterministic):
        from kspectral.data import augmented_pairs

        augmenters = build_augmenters(preset, side, small_views)
        single = augmenters[0] if len(augmenters) == 2 and augmenters[0] is augmenters[1] else augmenters
        self.ds = augmented_pairs(x, single, batch_size=batch, seed=0, deterministic=deterministic).repeat()
        self.views = len(augmenters)

    def run(self, steps):
        """Seconds for ``steps`` batches after the first, from a fresh iterator.

        A fresh iterator per call starts with an empty prefetch buffer (so that batches made earlier are not
        counted), and deleting it stops its background work (so that it does not slow the other timings).
        """
        iterator = iter(self.ds)
        next(iterator)
        start = time.perf_counter()
        for _ in range(steps):
            next(iterator)
        seconds = time.perf_counter() - start
        del iterator
        return seconds


def _check_finite(value, what):
    if not np.isfinite(value):
        raise RuntimeError(f"{what}: the loss is not finite ({value})")


def build_model(side, widths, projector, seed=0, **kwargs):
    """VICReg with the ``conv`` encoder, compiled with AdamW."""
    import keras

    from kspectral.encoders import build_encoder
    from kspectral.methods import VICReg

    keras.utils.set_random_seed(seed)
    model = VICReg(build_encoder("conv", (side, side, 3), widths), projector=projector, **kwargs)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    return model


class FitStep:
    """``model.fit`` on one pre-made batch, repeated: pairs (the plain step) or raw images (``augmenters=``, the
    ``augment_on = "device"`` step, which draws the views inside the train step)."""

    def __init__(self, x, side, widths, projector, augmenters=None):
        import tensorflow as tf

        if augmenters is None:
            self.mechanism = None
            self.model = build_model(side, widths, projector)
            batch = (x, np.ascontiguousarray(x[:, :, ::-1]))  # a pair: the image and its mirror
        else:
            self.mechanism = "SSLModel(augmenters=...) through fit() on raw images"
            self.model = build_model(side, widths, projector, augmenters=list(augmenters[:2]))
            batch = x
        self.ds = tf.data.Dataset.from_tensors(batch).repeat()

    def run(self, steps):
        start = time.perf_counter()
        history = self.model.fit(self.ds, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False).history
        seconds = time.perf_counter() - start
        _check_finite(history["loss"][-1], "fit step")
        return seconds


def time_rounds(runners, steps, rounds):
    """``{name: [seconds per round]}``; the order of the runners rotates from round to round."""
    names = list(runners)
    times = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            times[name].append(runners[name].run(steps))
    return times


def run_side(side, settings, presets, small_views, parallel, device_presets, log):
    batch, rounds = settings["batch"], settings["rounds"]
    steps = settings["steps"] or max(4, round(20 * (32 / side) ** 2))  # a 96 px step costs about 9 of 32 px
    n = max(settings["images"], 2 * batch)
    if side >= 96:
        n = max(n // 4, 2 * batch)  # memory: 1024 images of 96 px are 113 MB
    x = synthetic_images(n, side)
    x_batch = x[:batch]
    runners, views = {}, {}
    runners["step"] = FitStep(x_batch, side, settings["widths"], settings["projector"])
    for preset in presets:
        for mode in ("sequential", "parallel") if parallel else ("sequential",):
            key = f"pipeline[{preset}]" if mode == "sequential" else f"pipeline[{preset}, parallel]"
            runners[key] = Pipeline(x, preset, side, batch, small_views, deterministic=mode == "sequential")
            views[key] = runners[key].views
    for preset in device_presets:
        runners[f"device[{preset}]"] = FitStep(x_batch, side, settings["widths"], settings["projector"],
                                               build_augmenters(preset, side, small_views, seed=1))
    for name, runner in runners.items():  # trace, compile and fill the prefetch buffers outside the timings
        runner.run(2)
    log(f"  {side} px: warmed up {len(runners)} configurations; timing {rounds} × {steps} batches of {batch}")
    times = time_rounds(runners, steps, rounds)
    images = steps * batch
    rate = {name: median_rate(t, images) for name, t in times.items()}
    step_rate = rate["step"]
    reference = step_rate
    result = {
        "batch": batch,
        "images_in_memory": n,
        "steps": steps,
        "step": {"images_per_s": step_rate, "seconds_per_step": batch / step_rate},
        "pipeline": {},
        "device": {"mechanism": runners[f"device[{device_presets[0]}]"].mechanism if device_presets else None,
                   "step_without_augmentation_images_per_s": reference, "presets": {}},
        "times": times,
    }
    for name in runners:
        if name.startswith("pipeline["):
            result["pipeline"][name[len("pipeline["):-1]] = {
                "images_per_s": rate[name], "views": views[name], "ratio_to_step": rate[name] / step_rate,
                "meets_goal": rate[name] / step_rate >= GOAL,
            }
    for preset in device_presets:
        fused = rate[f"device[{preset}]"]
        result["device"]["presets"][preset] = {
            "images_per_s": fused,
            "slowdown": reference / fused,
            "augmentation_ms_per_batch": 1000 * batch * (1 / fused - 1 / reference),
        }
    return result


def markdown(results):
    lines = []
    for side, r in results["sizes"].items():
        step = r["step"]["images_per_s"]
        lines.append(f"\n{side} px, batch {r['batch']}: train step (conv encoder, VICReg, fit) {step:,.0f} images/s\n")
        lines.append("| preset | views | pipeline images/s | pipeline / step | ≥ 3× |")
        lines.append("|---|---|---|---|---|")
        for preset, p in r["pipeline"].items():
            lines.append(f"| {preset} | {p['views']} | {p['images_per_s']:,.0f} | {p['ratio_to_step']:.2f}× | "
                         f"{'yes' if p['meets_goal'] else 'no'} |")
        d = r["device"]
        if d["presets"]:
            lines.append(f"\nDevice augmentation ({d['mechanism']}); the same step without it: "
                         f"{d['step_without_augmentation_images_per_s']:,.0f} images/s\n")
            lines.append("| preset | step with augmentation, images/s | slowdown | augmentation ms / batch |")
            lines.append("|---|---|---|---|")
            for preset, p in d["presets"].items():
                lines.append(f"| {preset} | {p['images_per_s']:,.0f} | {p['slowdown']:.2f}× | "
                             f"{p['augmentation_ms_per_batch']:.0f} |")
    return "\n".join(lines)


def _machine():
    import keras
    import tensorflow as tf

    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "devices": [d.device_type for d in tf.config.list_physical_devices()],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=None, help="comma-separated image sides (default 32,96; --quick: 16)")
    parser.add_argument("--presets", default=",".join(PRESETS), help="comma-separated augmentation presets")
    parser.add_argument("--device-presets", default="cifar,simclr,vicreg",
                        help="presets whose in-step (device) cost is measured; empty for none")
    parser.add_argument("--batch", type=int, default=None, help="images per batch (default 256; --quick: 16)")
    parser.add_argument("--steps", type=int, default=None,
                        help="batches per configuration and round (default 20 at 32 px, 4 at 96 px)")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds (the median is reported)")
    parser.add_argument("--small-views", type=int, default=4, help="small views of the multicrop preset")
    parser.add_argument("--parallel", action="store_true",
                        help="also time the pipeline with deterministic=False (parallel augmentation)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and models: checks that the script runs")
    parser.add_argument("--out", default=None, help="write the results here as JSON")
    args = parser.parse_args(argv)

    settings = dict(QUICK if args.quick else FULL)
    for key in ("batch", "steps", "rounds"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else settings["sizes"]
    presets = [p for p in args.presets.split(",") if p]
    device_presets = [p for p in args.device_presets.split(",") if p]
    unknown = sorted(set(presets + device_presets) - set(PRESETS))
    if unknown:
        parser.error(f"unknown presets {', '.join(unknown)}; choose from {', '.join(PRESETS)}")

    def log(message):
        print(message, file=sys.stderr, flush=True)

    started = time.perf_counter()
    results = {
        "benchmark": "pair_pipeline",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "argv": sys.argv[1:] if argv is None else list(argv),
        "settings": {**settings, "sizes": list(sizes), "small_views": args.small_views, "parallel": args.parallel},
        "goal_ratio": GOAL,
        "machine": _machine(),
        "sizes": {},
    }
    for side in sizes:
        log(f"{side} px ...")
        results["sizes"][str(side)] = run_side(side, settings, presets, args.small_views, args.parallel,
                                               device_presets, log)
    results["seconds"] = round(time.perf_counter() - started, 1)
    table = markdown(results)
    print(table)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
        log(f"wrote {args.out}")
    return results


if __name__ == "__main__":
    main()
