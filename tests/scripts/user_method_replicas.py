"""A user's method (``tests/user_method.py``'s ``ToyMoCo``) on 1 device and on 2 replicas (2 logical CPUs).

Both models start from the same initialisation and take the same steps (SGD) on the same global batches of two noisy
views of digits, every BatchNorm synchronised (``sync_batchnorm="all"``, as ``kspectral train`` builds models).
Prints one JSON line: ``{"replicas", "loss_1", "loss_2" (per step), "weight_diff" (max |w₁ − w₂| over the online
weights), "teacher_diff", "queue_diff" (the queue's rows), "queue_state_1", "queue_state_2" ([position, filled]),
"moved" (max change of the online weights), "teacher_moved"}``. A separate process: logical devices must be set
before TensorFlow initialises.
"""

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kspectral.distribute import make_strategy  # noqa: E402

STEPS, BATCH = 4, 32


def main():
    strategy = make_strategy("mirrored", cpu_devices=2)  # before any TensorFlow operation
    import keras
    import numpy as np
    import tensorflow as tf

    from kspectral.data import digits
    from kspectral.encoders import build_encoder
    from user_method import ToyMoCo

    x = digits().x_train[: STEPS * BATCH].astype("float32")
    rng = np.random.default_rng(0)
    a = x + 0.2 * rng.normal(size=x.shape).astype("float32")
    b = x + 0.2 * rng.normal(size=x.shape).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((a, b)).batch(BATCH)

    def model():
        keras.utils.set_random_seed(0)
        m = ToyMoCo(build_encoder("mlp", (8, 8, 1), "32"), projector="32-16", queue_size=64, base_tau=0.8,
                    total_steps=STEPS, diagnostics=False, sync_batchnorm="all")
        m.compile(optimizer=keras.optimizers.SGD(0.2))
        m.build((None, 8, 8, 1))
        return m

    class Losses(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.losses, self.seen = [], 0

        def on_train_batch_end(self, batch, logs=None):
            # fit's loss is the epoch's running mean: the step's own loss is recovered from consecutive means
            self.seen += 1
            mean = float(logs["loss"])
            self.losses.append(mean * self.seen - sum(self.losses))

    def online(m):
        return [v.numpy().copy() for v in m.encoder.weights + m.projector.weights]

    single = model()
    initial = online(single)
    initial_teacher = [v.numpy().copy() for v in single.teacher.weights]
    one = Losses()
    single.fit(data, epochs=1, verbose=0, callbacks=[one], shuffle=False)
    with strategy.scope():
        mirrored = model()
    two = Losses()
    mirrored.fit(data, epochs=1, verbose=0, callbacks=[two], shuffle=False)

    def max_diff(xs, ys):
        return max(float(np.max(np.abs(p - q))) for p, q in zip(xs, ys))

    queue = lambda m: [int(m.queue.position.numpy()), int(m.queue.filled.numpy())]  # noqa: E731
    result = {
        "replicas": int(strategy.num_replicas_in_sync),
        "loss_1": one.losses,
        "loss_2": two.losses,
        "weight_diff": max_diff(online(single), online(mirrored)),
        "teacher_diff": max_diff([v.numpy() for v in single.teacher.weights],
                                 [v.numpy() for v in mirrored.teacher.weights]),
        "queue_diff": float(np.max(np.abs(single.queue.rows.numpy() - mirrored.queue.rows.numpy()))),
        "queue_state_1": queue(single),
        "queue_state_2": queue(mirrored),
        "moved": max_diff(online(single), initial),
        "teacher_moved": max_diff([v.numpy() for v in single.teacher.weights], initial_teacher),
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
