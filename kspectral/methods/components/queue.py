"""``EmbeddingQueue``: a first-in first-out memory of past embeddings (MoCo's negatives, NNCLR's support set)."""

from __future__ import annotations

import keras
from keras import ops

from kspectral._validation import check_positive_int
from kspectral.errors import InputError


@keras.saving.register_keras_serializable(package="kspectral")
class EmbeddingQueue(keras.layers.Layer):
    """The ``size`` most recent embeddings of dimension ``dim``, oldest overwritten first.

    :meth:`push` writes a batch (the **global** batch under a strategy: every replica pushes the same rows, so every
    replica holds the same queue) at the write position and advances it, wrapping around, as MoCo's
    ``_dequeue_and_enqueue`` (He et al. 2020, arXiv:1911.05722, Algorithm 1) and NNCLR's support set (Dwibedi et al.
    2021, arXiv:2104.14548) do. The queue starts with unit-norm random rows (MoCo's and solo-learn's
    initialisation, from a fixed seed of its own) and ``filled`` counts the rows pushed so far (capped at ``size``),
    so a method can tell a full queue from its initial noise. The state — the rows, the write position and the
    count — is made of model variables: ``.keras`` files and checkpoints hold it, so a resumed run continues with
    the same queue.

    Args:
        size: the number of rows ``Q`` (MoCo v2: 65 536; solo-learn's CIFAR MoCo v2+: 32 768).
        dim: the embedding dimension.
        normalize: L2-normalise the rows that are pushed (and the initial rows), as MoCo's keys are.
        seed: seed of the initial rows.
        source: ``None`` (the method calls :meth:`push` itself), or the name of an output of the model's forward pass
            (e.g. ``"k_b"``, the teacher's keys of the second view; a per-view list is pushed view after view): the
            model then pushes those rows of the **global** batch after every optimizer step
            (:meth:`update_after_step`), after the objective has read the queue, as MoCo enqueues after its update.

    Example:
        >>> import numpy as np
        >>> queue = EmbeddingQueue(4, 2)
        >>> queue.push(np.array([[3.0, 4.0], [0.0, 2.0]]))
        >>> np.round(keras.ops.convert_to_numpy(queue.rows[:2]).astype(float), 2).tolist(), int(queue.filled)
        ([[0.6, 0.8], [0.0, 1.0]], 2)
    """

    def __init__(self, size, dim, normalize=True, seed=0, source=None, **kwargs):
        super().__init__(**kwargs)
        self.source = None if source is None else str(source)
        self.size = check_positive_int(size, "size")
        self.dim = check_positive_int(dim, "dim")
        self.normalize = bool(normalize)
        self.seed = int(seed)
        initial = keras.random.normal((self.size, self.dim), seed=self.seed)
        if self.normalize:
            initial = initial / ops.norm(initial, axis=1, keepdims=True)
        self.rows = self.add_weight(shape=(self.size, self.dim), initializer=lambda shape, dtype=None: initial,
                                    trainable=False, dtype="float32", name="rows")
        self.position = self.add_weight(shape=(), initializer="zeros", trainable=False, dtype="int32",
                                        name="position")
        self.filled = self.add_weight(shape=(), initializer="zeros", trainable=False, dtype="int32", name="filled")
        self.built = True

    def push(self, batch):
        """Write ``batch`` ``(B, dim)`` (``B ≤ size``) at the write position, wrapping around, and advance it."""
        batch = ops.cast(ops.stop_gradient(ops.convert_to_tensor(batch)), "float32")
        if len(batch.shape) != 2 or (batch.shape[1] is not None and batch.shape[1] != self.dim):
            raise InputError(f"the queue holds rows of dimension {self.dim}, got a batch of shape {tuple(batch.shape)}")
        if batch.shape[0] is not None and batch.shape[0] > self.size:
            raise InputError(f"a batch of {batch.shape[0]} rows does not fit a queue of {self.size}; enlarge the queue")
        if self.normalize:
            batch = batch / ops.maximum(ops.norm(batch, axis=1, keepdims=True), 1e-12)
        count = ops.shape(batch)[0]
        index = (self.position + ops.arange(count, dtype="int32")) % self.size
        self.rows.assign(ops.scatter_update(self.rows, ops.expand_dims(index, 1), batch))
        self.position.assign((self.position + count) % self.size)
        self.filled.assign(ops.minimum(self.filled + count, self.size))

    def update_after_step(self, model, step, outputs):
        """Push ``outputs[source]`` (the gathered outputs of the step's forward pass) when :attr:`source` is set."""
        if self.source is None:
            return
        if self.source not in outputs:
            raise InputError(f"the queue's source {self.source!r} is not an output of the forward pass "
                             f"(outputs: {', '.join(sorted(outputs))}); name one of them")
        rows = outputs[self.source]
        self.push(ops.concatenate(list(rows), axis=0) if isinstance(rows, (list, tuple)) else rows)

    def call(self, inputs=None):
        """The rows, ``(size, dim)`` (no gradient flows into them)."""
        return ops.stop_gradient(ops.convert_to_tensor(self.rows))

    def get_config(self):
        config = super().get_config()
        config.update(size=self.size, dim=self.dim, normalize=self.normalize, seed=self.seed, source=self.source)
        return config
