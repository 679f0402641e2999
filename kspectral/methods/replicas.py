"""What a train step needs to run the same under one device and under a ``tf.distribute`` strategy.

Every replica computes the objective on the global batch (:func:`gather_outputs`), so R replicas of batch B take the
step one device takes on batch R·B (the train step scales the loss by ``1 / R``, see
:meth:`kspectral.methods.SSLModel.train_step`).
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops


def num_replicas():
    """Replicas in sync in the current replica context (1 outside one)."""
    ctx = tf.distribute.get_replica_context()
    return 1 if ctx is None else ctx.num_replicas_in_sync


def multi_worker():
    """Whether the current strategy is a ``MultiWorkerMirroredStrategy`` with several workers."""
    strategy = tf.distribute.get_strategy()
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    return getattr(strategy.extended, "_in_multi_worker_mode", lambda: True)()  # Keras' own test of the same


def step_logs(logs):
    """A train or test step's logs, each of shape ``(1,)`` under a multi-worker strategy.

    Keras 3 (up to 3.15 at least) reduces the logs of a multi-worker step with ``strategy.reduce("MEAN", v,
    axis=0)``, which fails on scalars ("Invalid reduction dimension 0 for input with 0 dimensions",
    keras-team/keras#20585); of shape ``(1,)`` they reduce to the scalar. Every replica reports the same values (the
    metrics are computed on the global batch).
    """
    if not multi_worker():
        return logs
    return {name: ops.reshape(value, (1,)) for name, value in logs.items()}


def gather_outputs(outputs):
    """``outputs`` (names → tensors, or → lists of tensors, one per view) all-gathered along the batch axis across
    replicas; as is on one device or outside a replica context."""
    if num_replicas() == 1:
        return outputs
    ctx = tf.distribute.get_replica_context()
    return {k: [ctx.all_gather(t, axis=0) for t in v] if isinstance(v, (list, tuple)) else ctx.all_gather(v, axis=0)
            for k, v in outputs.items()}


def as_float32(outputs):
    """Half-precision outputs (mixed precision) cast to float32; float32 and float64 kept as they are. ``outputs``
    maps names to tensors or to lists of tensors (one per view)."""
    def cast(v):
        return ops.cast(v, "float32") if keras.backend.standardize_dtype(v.dtype) in ("float16", "bfloat16") else v

    return {k: [cast(t) for t in v] if isinstance(v, (list, tuple)) else cast(v) for k, v in outputs.items()}
