"""Batch diagnostics reported as training metrics by every method (``keras.ops``, any backend).

- ``embedding_std``: std over the batch of the L2-normalised embeddings, averaged over dimensions
  (Lightly's ``std_of_l2_normalized``): 0 when collapsed, about ``1/√d`` when spread on the sphere.
- ``rankme``: RankMe effective rank ``exp(−Σ p_k log p_k)``, ``p_k = σ_k / Σσ + ε``, of the embedding batch
  (Garrido, Assran, Ballas, Bardes, Najman & LeCun 2023, arXiv:2210.02885; 1 = collapsed to a line).
- ``sample_contrastive``: ``L_c / (N(N−1))`` of the L2-normalised embeddings, the mean squared cosine
  similarity between distinct samples (0 = orthogonal, 1 = all aligned); ``L_c`` is Garrido, Chen, Bardes,
  Najman & LeCun 2023's (arXiv:2206.02574) sample-contrastive criterion (:mod:`kspectral.objectives.criteria`).
- ``dimension_contrastive``: ``L_nc / (M(M−1))`` of the standardised dimensions, the mean squared
  correlation between distinct dimensions (0 = decorrelated, 1 = redundant); ``L_nc`` is the same paper's
  dimension-contrastive criterion.

Cost and schedule. RankMe's SVD and the two Gram matrices cost about as much as a training step of a small
network, so :class:`~kspectral.methods.SSLModel` computes them on a schedule (:func:`diagnostics_due`): on the
first batch of every epoch (and of every ``evaluate()``) and on every ``diagnostics_every``-th batch after it,
inside the compiled step (:func:`scheduled_diagnostics`). Each metric in the history is then the mean over the
batches where it was computed, and every epoch has a value. ``diagnostics_every=1`` computes them on every
batch.
"""

from __future__ import annotations

from keras import ops

from kspectral.objectives.tensors import as_float, l2_normalize, off_diagonal_square_sum

#: the metric names, in the order the models report them
DIAGNOSTICS = ("embedding_std", "rankme", "sample_contrastive", "dimension_contrastive")
#: default ``diagnostics_every`` of :class:`~kspectral.methods.SSLModel`: the diagnostics then cost under 3 % of
#: a training step of the small networks in ``benchmarks/trainer_overhead.py`` (see ``BENCHMARKS.md``)
DEFAULT_EVERY = 100


def embedding_std(z):
    """Mean over dimensions of the batch std of the L2-normalised embeddings."""
    return ops.mean(ops.std(l2_normalize(as_float(z), axis=1), axis=0))


def rankme(z, eps=1e-7):
    """RankMe effective rank of a ``(batch, dim)`` embedding batch."""
    _, s, _ = ops.svd(as_float(z), full_matrices=False)  # compute_uv=False fails in graphs on Keras < 3.6
    p = s / ops.maximum(ops.sum(s), 1e-12) + eps
    return ops.exp(-ops.sum(p * ops.log(p)))


def mean_sample_similarity(z):
    """``L_c / (N(N−1))`` of the L2-normalised rows: mean squared cosine between distinct samples."""
    zn = l2_normalize(as_float(z), axis=1)
    n = ops.cast(ops.shape(zn)[0], zn.dtype)
    return off_diagonal_square_sum(ops.matmul(zn, ops.transpose(zn))) / ops.maximum(n * (n - 1.0), 1.0)


def mean_dimension_correlation(z):
    """``L_nc / (M(M−1))`` of the centred, unit-norm columns: mean squared correlation between dimensions."""
    z = as_float(z)
    zc = z - ops.mean(z, axis=0, keepdims=True)
    zn = l2_normalize(zc, axis=0)
    m = ops.cast(ops.shape(zn)[1], zn.dtype)
    return off_diagonal_square_sum(ops.matmul(ops.transpose(zn), zn)) / ops.maximum(m * (m - 1.0), 1.0)


def batch_diagnostics(z):
    """All of :data:`DIAGNOSTICS` for one embedding batch, as a dict of scalars."""
    z = ops.stop_gradient(as_float(z))
    return {
        "embedding_std": embedding_std(z),
        "rankme": rankme(z),
        "sample_contrastive": mean_sample_similarity(z),
        "dimension_contrastive": mean_dimension_correlation(z),
    }


def diagnostics_due(batch_index, every):
    """Whether the diagnostics are computed on a batch: ``batch_index % every == 0``.

    Args:
        batch_index: the batch's 0-based position in the epoch (a scalar tensor; a float such as a
            ``keras.metrics.Mean``'s ``count`` is fine).
        every: a positive integer.

    Returns:
        A scalar boolean tensor: true on batches ``0, every, 2·every, ...``.

    Example:
        >>> [bool(diagnostics_due(i, 3)) for i in range(5)]
        [True, False, False, True, False]
    """
    return ops.equal(ops.mod(ops.convert_to_tensor(batch_index), every), 0)


def scheduled_diagnostics(z, due):
    """:func:`batch_diagnostics` of ``z`` where ``due`` is true, computed only then (a graph conditional).

    Args:
        z: embedding batch, shape ``(batch, dim)``.
        due: scalar boolean tensor, e.g. from :func:`diagnostics_due`, or the Python ``True`` to compute them
            unconditionally.

    Returns:
        ``(values, weight)``: the dict of :func:`batch_diagnostics` (zeros when not due) and the float weight
        ``1.0`` or ``0.0``. Passing the weight as ``sample_weight`` to a ``keras.metrics.Mean`` leaves the mean
        unchanged on the batches where nothing was computed.

    Example:
        >>> import numpy as np
        >>> z = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
        >>> values, weight = scheduled_diagnostics(z, ops.convert_to_tensor(False))
        >>> float(values["rankme"]), float(weight)
        (0.0, 0.0)
    """
    z = ops.stop_gradient(as_float(z))
    if due is True:  # every batch: no conditional
        return batch_diagnostics(z), ops.ones((), dtype=z.dtype)
    zero = ops.zeros((), dtype=z.dtype)
    values = ops.cond(due, lambda: batch_diagnostics(z), lambda: {name: zero for name in DIAGNOSTICS})
    return values, ops.cast(due, z.dtype)
