"""Batch diagnostics reported as training metrics by every method (``keras.ops``, any backend).

- ``embedding_std``: std over the batch of the L2-normalised embeddings, averaged over dimensions
  (Lightly's ``std_of_l2_normalized``): 0 when collapsed, about ``1/√d`` when spread on the sphere.
- ``rankme``: RankMe effective rank ``exp(H(σ/Σσ))`` of the embedding batch (1 = collapsed to a line).
- ``sample_contrastive``: ``L_c / (N(N−1))`` of the L2-normalised embeddings, the mean squared cosine
  similarity between distinct samples (0 = orthogonal, 1 = all aligned).
- ``dimension_contrastive``: ``L_nc / (M(M−1))`` of the standardised dimensions, the mean squared
  correlation between distinct dimensions (0 = decorrelated, 1 = redundant).
"""

from __future__ import annotations

from keras import ops

from kspectral.objectives._common import as_float, l2_normalize, off_diagonal_square_sum

DIAGNOSTICS = ("embedding_std", "rankme", "sample_contrastive", "dimension_contrastive")


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
