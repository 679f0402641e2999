"""Training diagnostics on 1 device vs 2 replicas (2 logical CPUs) with the same global batches.

Every replica computes the diagnostics on the all-gathered global batch, on the same schedule, so the history
must match the one-device history. Prints one JSON line: ``{"replicas": 2, "one": history, "two": history}``.
Run as a separate process because logical devices must be configured before TensorFlow initialises.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

from kspectral.methods import VICReg  # noqa: E402
from kspectral.methods.diagnostics import DIAGNOSTICS  # noqa: E402


def make_model():
    keras.utils.set_random_seed(0)
    encoder = keras.Sequential([keras.Input((12,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(8)])
    projector = keras.Sequential([keras.layers.Dense(8, use_bias=False)])  # no BatchNorm: per-replica stats differ
    model = VICReg(encoder=encoder, projector=projector, diagnostics_every=2)
    model.compile(optimizer=keras.optimizers.SGD(0.05))
    return model


rng = np.random.default_rng(0)
a = rng.normal(size=(5 * 32, 12)).astype("float32")
b = (a + 0.3 * rng.normal(size=a.shape)).astype("float32")
data = tf.data.Dataset.from_tensor_slices((a, b)).batch(32)

h1 = make_model().fit(data, epochs=2, verbose=0, shuffle=False).history
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    mirrored = make_model()
h2 = mirrored.fit(data, epochs=2, verbose=0, shuffle=False).history
pick = lambda h: {k: [float(v) for v in h[k]] for k in (*DIAGNOSTICS, "loss")}  # noqa: E731
print(json.dumps({"replicas": strategy.num_replicas_in_sync, "one": pick(h1), "two": pick(h2)}))
sys.exit(0)
