"""One training step of a method on 1 device vs 2 replicas (2 logical CPUs) with the same global batch.

Usage: ``replica_equivalence.py [METHOD]`` (a method name or alias, default ``vicreg``; ``simclr`` exercises the
joint forward of both views). The encoder carries an L2 regularizer, so ``model.losses`` goes through the replica
scaling too. Prints the largest difference between the resulting weights and between the reported losses. Run as a
separate process because logical devices must be configured before TensorFlow initialises.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

from kspectral import methods  # noqa: E402

METHOD = sys.argv[1] if len(sys.argv) > 1 else "vicreg"


def make_model():
    keras.utils.set_random_seed(0)
    encoder = keras.Sequential([
        keras.Input((12,)),
        keras.layers.Dense(16, activation="relu", kernel_regularizer=keras.regularizers.L2(1e-3)),
        keras.layers.Dense(8),
    ])
    projector = keras.Sequential([keras.layers.Dense(8, use_bias=False)])  # no BatchNorm: per-replica stats differ
    model = methods.create(METHOD, encoder, projector=projector)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    return model


rng = np.random.default_rng(0)
a = rng.normal(size=(32, 12)).astype("float32")
b = (a + 0.3 * rng.normal(size=(32, 12))).astype("float32")
data = tf.data.Dataset.from_tensor_slices((a, b)).batch(32)

single = make_model()
h1 = single.fit(data, epochs=1, verbose=0, shuffle=False).history
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    mirrored = make_model()
h2 = mirrored.fit(data, epochs=1, verbose=0, shuffle=False).history
assert strategy.num_replicas_in_sync == 2
weight_diff = max(float(np.max(np.abs(w1 - w2))) for w1, w2 in zip(single.get_weights(), mirrored.get_weights()))
moved = max(float(np.max(np.abs(w1 - w0))) for w1, w0 in zip(single.get_weights(), make_model().get_weights()))
print(f"weight_diff={weight_diff:.3e} moved={moved:.3e} loss_1={h1['loss'][0]:.6f} loss_2={h2['loss'][0]:.6f}")
sys.exit(0)
