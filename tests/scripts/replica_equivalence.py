"""``fit()`` of every method on 1 device vs 2 replicas (2 logical CPUs) with the same global batches.

Usage: ``replica_equivalence.py [--sync heads|all|none] [--methods a,b,...] [--unsynced a,b,...] [--probe a,b,...]
[--save-load] [--device-augment] [--multiview a,b,...]``;
by default every registered method name, aliases included, with ``sync_batchnorm="all"``, then the ``--unsynced``
methods with ``sync_batchnorm="none"`` (per-replica statistics, which must differ). Each model has BatchNorm
everywhere: a user-built encoder ``Dense-BN-ReLU-Dense`` with an L2 regularizer (so ``model.losses`` goes through the
replica scaling), the library's projector (Linear-BN-ReLU blocks) or CISSL's / DISSL's heads, and an online linear probe
trained with Adam on labelled rows (−1 = unlabelled; ``--probe a,b`` restricts it to those methods). Both models
train 2 epochs of 2 steps of global batch 16 with SGD.

Prints one JSON line per method: ``{"method", "sync", "weight_diff" (largest |w₁ − w₂| over all weights, the
BatchNorm moving statistics and the probe's included), "weight_scale" (largest |w₁|), "moved" (largest change from the
initial weights), "loss_1", "loss_2" (per-epoch losses), "probe_1", "probe_2" (online probe accuracy)}``; with
``--save-load`` one more line ``{"save_load": max |embed difference|}`` for a 2-replica model saved to ``.keras`` and
loaded on one device; with ``--device-augment`` a line ``{"device_augment": max |Δw|, "loss_1", "loss_2"}`` for views
drawn on the device (:meth:`~kspectral.methods.SSLModel.augment`); with ``--multiview`` a line ``{"multiview": {method:
max |Δw|}, "losses": ...}`` for 4 views of flat features and for multi-crop views of two sizes drawn on the device.
Runs as a separate process because logical
devices must be configured before TensorFlow initialises.
"""

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from kspectral import methods  # noqa: E402
from kspectral.distribute import make_strategy  # noqa: E402

HEADS = {
    "cissl": {"student_dim": 8, "teacher": "16-8"},
    "dissl": {"n_classes": 8, "teacher": "16-8", "student_bottleneck": 8},
    # DINO's official N(0, 0.02²) head initialisation shrinks a 16-16-8 MLP's bottleneck to ~1e-5, whose L2
    # normalisation then multiplies the gradients by ~1e4 and float rounding with them: Keras' initialisation
    "dino": {"projector": "16-16-8", "layer_defaults": "keras"},
}


def make_model(method, sync, probe=True):
    keras.utils.set_random_seed(0)
    encoder = keras.Sequential([
        keras.Input((12,)),
        keras.layers.Dense(16, use_bias=False, kernel_regularizer=keras.regularizers.L2(1e-3)),
        keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
        keras.layers.Dense(8),
    ])
    cls, _ = methods.resolve(method)
    heads = HEADS.get(cls.registry_name, {"projector": "16-16-8"})
    probe = {"online_probe_classes": 3, "online_probe_optimizer": keras.optimizers.Adam(0.05)} if probe else {}
    model = methods.create(method, encoder, **heads, sync_batchnorm=sync, diagnostics=False, **probe)
    model.compile(optimizer=keras.optimizers.SGD(0.05))
    return model


def dataset(views=2):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(32, 12)).astype("float32")
    others = [(a + 0.3 * rng.normal(size=a.shape)).astype("float32") for _ in range(views - 1)]
    y = rng.integers(-1, 3, size=32).astype("int32")  # -1: unlabelled rows
    return tf.data.Dataset.from_tensor_slices((a, *others, y)).batch(16)


def compare(method, sync, strategy, probe, views=2):
    start = time.perf_counter()
    data = dataset(views)
    single = make_model(method, sync, probe)
    fresh = make_model(method, sync, probe)
    fresh.build((None, 12))
    initial = fresh.get_weights()
    h1 = single.fit(data, epochs=2, verbose=0, shuffle=False).history
    with strategy.scope():
        mirrored = make_model(method, sync, probe)
    h2 = mirrored.fit(data, epochs=2, verbose=0, shuffle=False).history
    w1, w2 = single.get_weights(), mirrored.get_weights()
    assert len(w1) == len(w2) == len(initial)
    result = {
        "method": method,
        "sync": sync,
        "weight_diff": max(float(np.max(np.abs(a - b))) for a, b in zip(w1, w2)),
        # over the float weights: a queue's integer counters (its write position, its count) are no scale
        "weight_scale": max(float(np.max(np.abs(a))) for a in w1 if np.issubdtype(a.dtype, np.floating)),
        "moved": max(float(np.max(np.abs(a - b))) for a, b in zip(w1, initial) if np.issubdtype(a.dtype, np.floating)),
        "loss_1": [float(v) for v in h1["loss"]],
        "loss_2": [float(v) for v in h2["loss"]],
        "probe_1": [float(v) for v in h1.get("online_linear_train_top1", [])],
        "probe_2": [float(v) for v in h2.get("online_linear_train_top1", [])],
        "seconds": round(time.perf_counter() - start, 2),
    }
    return result, mirrored


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sync", default="all", choices=("heads", "all", "none"))
    parser.add_argument("--methods", default=",".join(methods.names()))
    parser.add_argument("--unsynced", default="")
    parser.add_argument("--probe", default=None, help="the methods trained with an online probe (default: all)")
    parser.add_argument("--save-load", action="store_true")
    parser.add_argument("--device-augment", action="store_true")
    parser.add_argument("--multiview", default="", help="methods also compared on 4 views and on multi-crop")
    args = parser.parse_args()
    strategy = make_strategy("mirrored", cpu_devices=2)  # before any TensorFlow operation
    assert strategy.num_replicas_in_sync == 2
    runs = [(m, args.sync) for m in args.methods.split(",") if m] + [(m, "none") for m in args.unsynced.split(",") if m]
    saved = None
    for method, sync in runs:
        result, mirrored = compare(method, sync, strategy, args.probe is None or method in args.probe.split(","))
        if saved is None and sync != "none":
            saved = mirrored
        print(json.dumps(result), flush=True)
    if args.save_load:
        # A model trained on 2 replicas (synchronised BatchNorm), saved, and loaded on one device.
        x = np.random.default_rng(1).normal(size=(8, 12)).astype("float32")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.keras")
            saved.save(path)
            loaded = keras.models.load_model(path)
        synced = [layer.synchronized for layer in methods.base.batchnorm_layers(loaded)]
        reference = saved.embed(x).numpy()
        print(json.dumps({"save_load": float(np.max(np.abs(loaded.embed(x).numpy() - reference))),
                          "synchronized": synced}), flush=True)
    if args.device_augment:
        print(json.dumps(device_augment(strategy)), flush=True)
    if args.multiview:
        print(json.dumps(multiview(strategy, [m for m in args.multiview.split(",") if m])), flush=True)
    return 0


def multiview(strategy, names):
    """Each method on 4 views of flat features (with the online probe), and on multi-crop views of two sizes drawn
    on the device (2 large 12-px and 2 small 6-px crops of RGB images, a convnet of any input size, the projector's
    BatchNorm synchronised)."""
    from kspectral.data import multicrop

    diffs, losses = {}, {}
    for method in names:
        result, _ = compare(method, "all", strategy, True, views=4)
        diffs[method], losses[method] = result["weight_diff"], [result["loss_1"], result["loss_2"]]

        def make():
            keras.utils.set_random_seed(0)
            # a convnet of any input size; its BatchNorm would add float32 rounding of spatial sums (E[x²] − E[x]²
            # over 8·H·W values per replica), which the projector's BatchNorm already tests on dense features
            encoder = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(8, 3, activation="relu"),
                                        keras.layers.GlobalAveragePooling2D()])
            model = methods.create(method, encoder, projector="16-8",
                                   diagnostics=False, sync_batchnorm="all",
                                   augmenters=multicrop("cifar", 12, n_small=2, small_size=6, seed=0))
            model.compile(optimizer=keras.optimizers.SGD(0.05))
            return model

        x = (np.random.default_rng(3).uniform(size=(32, 12, 12, 3)) * 255).astype("uint8")
        run = fit_on_both(make, tf.data.Dataset.from_tensor_slices(x).batch(16), strategy)
        diffs[f"{method} multicrop"] = run["weight_diff"]
        diffs[f"{method} multicrop moved"] = run["moved"]
        losses[f"{method} multicrop"] = [run["loss_1"], run["loss_2"]]
    return {"multiview": diffs, "losses": losses}


def device_augment(strategy):
    """``augment_on = "device"``: a model that draws its views from raw uint8 images, on 1 device and on 2 replicas,
    with an uneven last batch (29 images in batches of 16: 8 + 8, then 7 + 6 rows per replica)."""
    from kspectral.data import digits_augmenter
    from kspectral.encoders import build_encoder

    def make():
        keras.utils.set_random_seed(0)
        model = methods.VICReg(build_encoder("mlp", (8, 8, 1), "16"), projector="16-8", diagnostics=False,
                               augmenters=digits_augmenter(seed=0))
        model.compile(optimizer=keras.optimizers.SGD(0.05))
        return model

    x = (np.random.default_rng(2).uniform(size=(29, 8, 8, 1)) * 255).astype("uint8")
    run = fit_on_both(make, tf.data.Dataset.from_tensor_slices(x).batch(16), strategy)
    return {"device_augment": run["weight_diff"], "loss_1": run["loss_1"], "loss_2": run["loss_2"]}


def fit_on_both(make, data, strategy):
    """``make()`` fitted 2 epochs on ``data`` on one device and under ``strategy``: the largest weight difference and
    the per-epoch losses."""
    single = make()
    initial = [w.copy() for w in single.get_weights()] if single.built else None
    h1 = single.fit(data, epochs=2, verbose=0).history
    with strategy.scope():
        mirrored = make()
    h2 = mirrored.fit(data, epochs=2, verbose=0).history
    w1 = single.get_weights()
    if initial is None:  # built by its first batch: the initial weights of a fresh model with the same seed
        fresh = make()
        fresh.build_from_encoder()
        initial = fresh.get_weights()
    return {"weight_diff": max(float(np.max(np.abs(a - b))) for a, b in zip(w1, mirrored.get_weights())),
            "moved": max(float(np.max(np.abs(a - b))) for a, b in zip(w1, initial)),
            "loss_1": [float(v) for v in h1["loss"]], "loss_2": [float(v) for v in h2["loss"]]}


if __name__ == "__main__":
    sys.exit(main())
