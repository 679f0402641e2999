"""Positive pairs as ``tf.data`` pipelines: each yields ``(view_a, view_b)`` batches that ``fit()`` consumes.

- :func:`augmented_pairs`: two independent augmentations of each sample (the pair graph of augmented views).
- :func:`graph_pairs`: pairs ``(x_i, x_j)`` drawn from the edges of a graph ``G`` with probability ``∝ G_ij``
  (kNN, label or any user graph from :mod:`kspectral.spectral`).
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from kspectral._validation import check_positive_int
from kspectral.spectral.graphs import validate_graph


def _as_samples(x, name="x"):
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"{name} must be a batch of samples of shape (N, ...), got shape {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty: no samples to make pairs from")
    if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return x.astype(np.float32) if x.dtype != np.float32 else x


def _check_batch(batch_size, n):
    batch_size = check_positive_int(batch_size, "batch_size", minimum=2)
    if batch_size > n:
        raise ValueError(f"batch_size={batch_size} is larger than the {n} training samples; use at most {n}")
    return batch_size


def augmented_pairs(x, augmenter, batch_size=256, *, shuffle=True, seed=0, drop_remainder=True,
                    deterministic=True):
    """Batches of two augmented views of the same samples.

    Each pass reshuffles the samples and draws new augmentations, so every epoch sees new pairs.

    Keras' random layers draw from a stateful seed generator: mapped in parallel, the batches would race for
    it and a seed would not reproduce a run. With ``deterministic=True`` (the default) batches are augmented one
    after the other (the augmentation is vectorised over the batch and prefetched, so this rarely limits
    training); ``deterministic=False`` maps in parallel for throughput, at the cost of reproducibility.

    Args:
        x: samples, shape ``(N, ...)``.
        augmenter: a callable Keras layer/model applied as ``augmenter(batch, training=True)``.
        batch_size: samples per batch (``2 ≤ batch_size ≤ N``).
        shuffle: reshuffle the samples every pass.
        seed: shuffling seed (the augmentations follow ``keras.utils.set_random_seed``).
        drop_remainder: drop the last incomplete batch (batch statistics need full batches).
        deterministic: augment batches sequentially, so that a seed reproduces the pairs.

    Returns:
        ``tf.data.Dataset`` of ``(view_a, view_b)``, each of shape ``(batch_size, ...)``.

    Example:
        >>> from kspectral.data import digits, digits_augmenter
        >>> ds = augmented_pairs(digits().x_train, digits_augmenter(), batch_size=32)
        >>> a, b = next(iter(ds))
        >>> tuple(a.shape), tuple(b.shape)
        ((32, 8, 8, 1), (32, 8, 8, 1))
    """
    x = _as_samples(x)
    batch_size = _check_batch(batch_size, x.shape[0])
    if not drop_remainder and x.shape[0] % batch_size == 1:
        raise ValueError(
            f"{x.shape[0]} samples in batches of {batch_size} leave a last batch of one sample, whose batch "
            "statistics are undefined; use drop_remainder=True or another batch_size"
        )
    ds = tf.data.Dataset.from_tensor_slices(x)
    if shuffle:
        ds = ds.shuffle(x.shape[0], seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)

    def two_views(batch):
        return augmenter(batch, training=True), augmenter(batch, training=True)

    parallel = None if deterministic else tf.data.AUTOTUNE
    return ds.map(two_views, num_parallel_calls=parallel).prefetch(tf.data.AUTOTUNE)


def graph_pairs(x, graph, batch_size=256, *, steps_per_epoch=None, seed=0, augmenter=None):
    """Batches of pairs ``(x_i, x_j)`` sampled from the edges of a positive-pair graph.

    Ordered pairs are drawn with probability ``G_ij / Σ G`` (both orientations of each edge), so a node is
    picked in proportion to its degree. Each pass draws new pairs.

    Args:
        x: samples, shape ``(N, ...)``; node ``i`` of the graph is ``x[i]``.
        graph: positive-pair graph, shape ``(N, N)`` (see :mod:`kspectral.spectral.graphs`).
        batch_size: pairs per batch.
        steps_per_epoch: batches per pass; default ``ceil(N / batch_size)``.
        seed: sampling seed.
        augmenter: optional Keras augmentation applied to both views.

    Returns:
        ``tf.data.Dataset`` of ``(view_a, view_b)``, each of shape ``(batch_size, ...)``.
    """
    x = _as_samples(x)
    n = x.shape[0]
    G = validate_graph(graph, n=n, name="graph").tocoo()
    batch_size = check_positive_int(batch_size, "batch_size", minimum=2)
    steps = math.ceil(n / batch_size) if steps_per_epoch is None else check_positive_int(steps_per_epoch, "steps_per_epoch")
    cdf = np.cumsum(G.data, dtype=np.float64)
    cdf /= cdf[-1]
    rows = tf.constant(G.row, dtype=tf.int64)
    cols = tf.constant(G.col, dtype=tf.int64)
    cdf_t = tf.constant(cdf, dtype=tf.float64)
    samples = tf.convert_to_tensor(x)
    last = len(cdf) - 1

    def draw(r):
        # Dataset.random yields integers uniform on [0, 2³²): map them to uniforms on [0, 1).
        u = tf.cast(tf.math.floormod(r, 2**32), tf.float64) / float(2**32)
        e = tf.minimum(tf.searchsorted(cdf_t, u, side="right"), last)
        a = tf.gather(samples, tf.gather(rows, e))
        b = tf.gather(samples, tf.gather(cols, e))
        if augmenter is not None:
            a, b = augmenter(a, training=True), augmenter(b, training=True)
        return a, b

    ds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(batch_size).take(steps)
    # Pair indices come from Dataset.random, so parallel mapping is reproducible unless an augmenter draws.
    parallel = tf.data.AUTOTUNE if augmenter is None else None
    return ds.map(draw, num_parallel_calls=parallel).prefetch(tf.data.AUTOTUNE)
