"""BatchNorm across a model: find every ``keras.layers.BatchNormalization`` and synchronise it over replicas."""

from __future__ import annotations

import keras
from kspectral.errors import InputError

#: the choices of ``SSLModel(sync_batchnorm=...)``: which BatchNorm layers average their statistics over replicas
SYNC_BATCHNORM = ("heads", "all", "none")


def batchnorm_layers(layers):
    """Every ``keras.layers.BatchNormalization`` in ``layers`` (layers, models, or lists of them), nested ones
    included, each once, in the order found."""
    found, seen = [], set()
    stack = list(layers) if isinstance(layers, (list, tuple)) else [layers]
    for layer in stack:
        if not isinstance(layer, keras.layers.Layer):
            continue
        for sub in layer._flatten_layers(include_self=True, recursive=True):
            if isinstance(sub, keras.layers.BatchNormalization) and id(sub) not in seen:
                seen.add(id(sub))
                found.append(sub)
    return found


def set_batchnorm_synchronized(layers, synchronized=True):
    """Set ``synchronized`` on every BatchNorm in ``layers`` (see :func:`batchnorm_layers`); return their count.

    ``BatchNormalization(synchronized=True)`` (TensorFlow backend) all-reduces the batch moments (sum, sum of
    squares, count) over the replicas of a ``tf.distribute`` strategy, so every replica normalises with the
    statistics of the global batch; in the default replica context (one device) the all-reduce is the identity.
    Keras reads the attribute when the layer is called, so setting it before the first (traced) call takes effect,
    and ``get_config`` saves it. The all-reduce has a gradient (a replica-context all-reduce's gradient is the
    all-reduce of the upstream gradients), so the backward pass is the global batch's too.
    """
    found = batchnorm_layers(layers)
    for layer in found:
        layer.synchronized = bool(synchronized)
    return len(found)


def check_sync_batchnorm(value):
    """``value`` if it is one of :data:`SYNC_BATCHNORM`, else a ``ValueError`` that says what each choice does."""
    if value not in SYNC_BATCHNORM:
        raise InputError(
            f"sync_batchnorm must be one of {', '.join(repr(v) for v in SYNC_BATCHNORM)}, got {value!r}: 'heads' "
            "synchronises the BatchNorm of the projector and heads across replicas, 'all' the encoder's too"
        )
    return value


__all__ = ["SYNC_BATCHNORM", "batchnorm_layers", "check_sync_batchnorm", "set_batchnorm_synchronized"]


def synchronize_batchnorm(heads, encoder, setting):
    """Apply a ``sync_batchnorm`` setting (:data:`SYNC_BATCHNORM`) to a model's heads and encoder: ``"heads"``
    synchronises the heads' BatchNorm layers and leaves the encoder's as built, ``"all"`` synchronises both,
    ``"none"`` neither (the encoder's are set unsynchronised). Returns the number of synchronised layers."""
    if setting == "none":
        set_batchnorm_synchronized([*heads, encoder], False)
        return 0
    count = set_batchnorm_synchronized(heads, True)
    if setting == "all":
        count += set_batchnorm_synchronized(encoder, True)
    return count
