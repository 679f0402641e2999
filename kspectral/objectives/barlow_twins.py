"""Barlow Twins: redundancy reduction between two views (Zbontar, Jing, Misra, LeCun & Deny 2021,
arXiv:2103.03230). A dimension-contrastive criterion (Garrido et al. 2023, arXiv:2206.02574, Prop. 3.2)."""

from __future__ import annotations

import keras
from keras import ops

from kspectral.objectives._common import SignatureLoss, check_embeddings, check_nonnegative, check_pair
from kspectral.objectives._common import check_positive, loss_or_terms
from kspectral.objectives.tensors import as_float, batch_size, off_diagonal_square_sum


def batch_standardize(z, epsilon=1e-5):
    """Per-dimension batch standardisation, as ``BatchNorm1d(affine=False)`` in training mode.

    ``(z − mean_b z) / sqrt(Var_b(z) + ε)`` with the *biased* batch variance (divided by ``N``) and ``ε`` inside
    the square root, exactly what PyTorch's batch norm uses to normalise a training batch.

    Args:
        z: ``(batch, dim)`` embeddings.
        epsilon: ε added to the variance (PyTorch's default ``1e-5``).

    Returns:
        Tensor of the shape of ``z`` (float32, or float64 for float64 input).
    """
    z = check_embeddings(as_float(z), "z", min_batch=2)
    return _batch_standardize(z, check_nonnegative(epsilon, "epsilon"))


def _batch_standardize(z, epsilon):
    centred = z - ops.mean(z, axis=0, keepdims=True)
    var = ops.mean(ops.square(centred), axis=0, keepdims=True)
    return centred / ops.sqrt(var + epsilon)


def cross_correlation(z_a, z_b, epsilon=1e-5):
    """Barlow Twins' cross-correlation matrix ``c = BN(z_a)ᵀ BN(z_b) / N`` (arXiv:2103.03230, Eq. 2), ``(dim, dim)``."""
    epsilon = check_nonnegative(epsilon, "epsilon")
    z_a, z_b = check_pair(z_a, z_b)
    a, b = _batch_standardize(z_a, epsilon), _batch_standardize(z_b, epsilon)
    return ops.matmul(ops.transpose(a), b) / batch_size(z_a)


@keras.saving.register_keras_serializable(package="kspectral")
def barlow_twins(z_a, z_b, redundancy_weight=0.0051, epsilon=1e-5, scale_loss=1.0, return_terms=False):
    """Barlow Twins loss (Zbontar et al. 2021, arXiv:2103.03230, Eqs. 1-2), as the official ``main.py`` computes it.

    ``L = s · (Σ_i (1 − c_ii)² + λ Σ_{i≠j} c_ij²)`` with ``c`` the cross-correlation of the batch-standardised views
    (:func:`cross_correlation`; ``BatchNorm1d(affine=False)`` in training mode: biased variance, ``ε`` inside the
    square root). The official code all-reduces ``c`` over GPUs after dividing by the per-GPU batch; on the global
    batch seen here that is the same ``c``. Computed in float32 (float64 inputs stay float64). ``L`` is invariant
    to a positive affine rescaling of each dimension of either view (up to ``ε``) and symmetric in the views.

    Args:
        z_a, z_b: embeddings of the two views, shape ``(batch, dim)``, ``batch ≥ 2``.
        redundancy_weight: λ ≥ 0, weight of the off-diagonal term (official 0.0051).
        epsilon: ε ≥ 0 of the batch standardisation.
        scale_loss: ``s > 0``, a factor on the whole loss: 1 in the official code; solo-learn's ``scale_loss``
            (``solo/losses/barlow.py``; 0.1 in its CIFAR config ``scripts/pretrain/cifar/barlow.yaml``, whose
            numbers the CIFAR recipes cite). The reported terms are not scaled.
        return_terms: return ``{"loss", "invariance", "redundancy"}`` (unweighted ``Σ_i (1 − c_ii)²`` and
            ``Σ_{i≠j} c_ij²``) instead.

    Returns:
        Scalar loss tensor, or the dict of ``return_terms``.

    Example:
        >>> import numpy as np
        >>> x = np.array([[1., 2.], [3., 1.], [0., 0.], [2., 5.]])
        >>> round(float(barlow_twins(x, x)), 7)
        0.0013114
    """
    redundancy_weight = check_nonnegative(redundancy_weight, "redundancy_weight")
    scale_loss = check_positive(scale_loss, "scale_loss")
    c = cross_correlation(z_a, z_b, epsilon)
    terms = {"invariance": ops.sum(ops.square(1.0 - ops.diagonal(c))), "redundancy": off_diagonal_square_sum(c)}
    loss = terms["invariance"] + redundancy_weight * terms["redundancy"]
    return loss_or_terms(loss if scale_loss == 1.0 else scale_loss * loss, terms, return_terms)


@keras.saving.register_keras_serializable(package="kspectral")
class BarlowTwinsLoss(SignatureLoss):
    """Keras loss calling :func:`barlow_twins`: ``BarlowTwinsLoss()(z_a, z_b)``, one scalar per batch; the
    hyper-parameters and their defaults are those of :func:`barlow_twins`. The loss is symmetric in Keras'
    ``(y_true, y_pred)``.

    Example:
        >>> loss = BarlowTwinsLoss(redundancy_weight=0.005)
        >>> BarlowTwinsLoss.from_config(loss.get_config()).redundancy_weight
        0.005
    """

    objective = staticmethod(barlow_twins)
    default_name = "barlow_twins"
    nonnegative = ("redundancy_weight", "epsilon")
    positive = ("scale_loss",)


__all__ = ["BarlowTwinsLoss", "barlow_twins", "batch_standardize", "cross_correlation"]
