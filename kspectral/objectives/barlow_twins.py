"""Barlow Twins: redundancy reduction between two views (Zbontar, Jing, Misra, LeCun & Deny, ICML 2021).

Spec: ``objectives.md`` A2 row 6 (official formula, ``facebookresearch/barlowtwins`` ``main.py``) and part C
properties 20-21; ``theory.md`` §3.5 for its relation to CCA. A dimension-contrastive criterion (Paper A, Prop. 3.2).
"""

from __future__ import annotations

import keras
from keras import ops

from kspectral.objectives._common import ObjectiveLoss, batch_size, check_pair, off_diagonal_square_sum


def batch_standardize(z, epsilon=1e-5):
    """Per-dimension batch standardisation, as ``BatchNorm1d(affine=False)`` in training mode.

    ``(z − mean_b z) / sqrt(Var_b(z) + ε)`` with the *biased* batch variance (divided by ``N``) and ``ε`` inside
    the square root, exactly what PyTorch's batch norm uses to normalise a training batch.

    Args:
        z: ``(batch, dim)`` embeddings.
        epsilon: ε added to the variance (PyTorch's default ``1e-5``).

    Returns:
        Tensor of the shape and dtype of ``z``.
    """
    centred = z - ops.mean(z, axis=0, keepdims=True)
    var = ops.mean(ops.square(centred), axis=0, keepdims=True)
    return centred / ops.sqrt(var + epsilon)


def cross_correlation(z_a, z_b, epsilon=1e-5):
    """Barlow Twins' cross-correlation matrix ``c = BN(z_a)ᵀ BN(z_b) / N``, shape ``(dim, dim)``."""
    z_a, z_b = check_pair(z_a, z_b)
    if epsilon < 0:
        raise ValueError(f"epsilon must be non-negative, got {epsilon}")
    za = batch_standardize(z_a, epsilon)
    zb = batch_standardize(z_b, epsilon)
    return ops.matmul(ops.transpose(za), zb) / batch_size(z_a)


def barlow_twins_terms(z_a, z_b, epsilon=1e-5):
    """The two unweighted Barlow Twins terms.

    Returns:
        dict with scalars ``invariance = Σ_i (1 − c_ii)²`` (the on-diagonal term) and
        ``redundancy = Σ_{i≠j} c_ij²`` (the off-diagonal term), ``c`` from :func:`cross_correlation`.
    """
    c = cross_correlation(z_a, z_b, epsilon)
    return {
        "invariance": ops.sum(ops.square(1.0 - ops.diagonal(c))),
        "redundancy": off_diagonal_square_sum(c),
    }


def barlow_twins(z_a, z_b, redundancy_weight=0.0051, epsilon=1e-5):
    """Barlow Twins loss, exactly as ``facebookresearch/barlowtwins`` ``main.py`` computes it (one device).

    With ``z_a, z_b`` of shape ``(N, D)`` (rows are samples)::

        c = BN(z_a)ᵀ BN(z_b) / N
        L = Σ_i (1 − c_ii)² + λ Σ_{i≠j} c_ij²

    where ``BN`` standardises each dimension over the batch like ``BatchNorm1d(D, affine=False)`` in training
    mode: biased batch variance, ``ε`` inside the square root. The default ``λ = 0.0051`` is the official one.
    (The official code all-reduces ``c`` over GPUs after dividing by the per-GPU batch; on the global batch
    seen here that is the same ``c``.) The loss is computed in float32 (float64 inputs stay float64).
    Spec: ``objectives.md`` A2 row 6; part C properties 20-21.

    Properties: ``L`` is invariant to a positive affine rescaling of each dimension of either view (up to the
    ε in BN), and symmetric in the two views (swapping them transposes ``c``).

    Args:
        z_a, z_b: embeddings of the two views, shape ``(batch, dim)``, ``batch ≥ 2``.
        redundancy_weight: λ, weight of the off-diagonal (redundancy-reduction) term.
        epsilon: ε of the batch standardisation.

    Returns:
        Scalar loss tensor.

    Example:
        >>> import numpy as np
        >>> x = np.array([[1., 2.], [3., 1.], [0., 0.], [2., 5.]])
        >>> round(float(barlow_twins(x, x)), 7)
        0.0013114
    """
    terms = barlow_twins_terms(z_a, z_b, epsilon)
    return terms["invariance"] + redundancy_weight * terms["redundancy"]


@keras.saving.register_keras_serializable(package="kspectral")
class BarlowTwinsLoss(ObjectiveLoss):
    """Keras loss wrapping :func:`barlow_twins`: ``BarlowTwinsLoss()(z_a, z_b)`` returns the scalar loss.

    The two views take Keras' ``(y_true, y_pred)`` positions; the loss is symmetric in them.

    Example:
        >>> loss = BarlowTwinsLoss(redundancy_weight=0.005)
        >>> BarlowTwinsLoss.from_config(loss.get_config()).redundancy_weight
        0.005
    """

    objective = staticmethod(barlow_twins)

    def __init__(self, redundancy_weight=0.0051, epsilon=1e-5, name="barlow_twins", reduction="sum_over_batch_size",
                 dtype=None):
        super().__init__(name, reduction, dtype, redundancy_weight=float(redundancy_weight), epsilon=float(epsilon))
