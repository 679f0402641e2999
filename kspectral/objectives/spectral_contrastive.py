"""Spectral contrastive loss (HaoChen, Wei, Gaidon & Ma 2021, arXiv:2106.04156), a sample-contrastive loss whose
negative term is a squared similarity (Garrido et al. 2023, arXiv:2206.02574, Prop. 3.2)."""

from __future__ import annotations

import keras
from keras import ops

from kspectral.objectives._common import SignatureLoss, check_embeddings, check_pair, check_positive, loss_or_terms
from kspectral.objectives.tensors import as_float, batch_size, off_diagonal_square_sum

_EPSILON = 1e-12


def project_to_ball(z, radius, epsilon=_EPSILON):
    """Project every row of ``z`` onto the ball of the given radius: ``z_i · min(1, radius / ‖z_i‖)``.

    Rows already inside the ball (``‖z_i‖ ≤ radius``) are left untouched, and so are their gradients; longer rows
    are rescaled to norm ``radius``. The norm is clamped at ``sqrt(epsilon)``, so ``z_i = 0`` is finite with finite
    gradients.

    Args:
        z: ``(batch, dim)`` embeddings.
        radius: the ball's radius > 0 (a number, or a tensor, which is not checked).
        epsilon: floor of the squared norms.
    """
    z = check_embeddings(as_float(z), "z", min_batch=1)
    return _project(z, check_positive(radius, "radius"), epsilon)


def _project(z, radius, epsilon=_EPSILON):
    norm = ops.sqrt(ops.maximum(ops.sum(ops.square(z), axis=1, keepdims=True), epsilon))
    return z * ops.minimum(ops.ones_like(norm), radius / norm)


@keras.saving.register_keras_serializable(package="kspectral")
def spectral_contrastive(z_a, z_b, mu=1.0, divide_by_mu=True, return_terms=False):
    """Spectral contrastive loss (HaoChen et al. 2021, arXiv:2106.04156), as the authors' ``D()`` computes it.

    With ``a_i``, ``b_i`` the rows of ``z_a``, ``z_b`` projected onto the ball of radius ``√μ``
    (:func:`project_to_ball`: rescaled to norm ``√μ`` only when longer)::

        L = [ −(2/B) Σ_i a_iᵀb_i + 1/(B(B−1)) Σ_{i≠j} (a_iᵀb_j)² ] / μ

    the empirical ``−2 E[f(x)ᵀf(x⁺)] + E[(f(x)ᵀf(x⁻))²]``. Positive pairs: ``(a_i, b_i)``; negative pairs:
    ``(a_i, b_j)``, ``i ≠ j``, the off-diagonal of the cross-view Gram matrix (same-view pairs are not used).

    **The division by μ.** The authors' code (``models/spectral.py``, ``D(z1, z2, mu)``) divides the sum by ``μ``;
    this is the default. ``divide_by_mu=False`` gives the undivided form, the paper's formula with the projected
    embeddings, which is ``μ ×`` the default value. The two agree at ``μ = 1``. At ``μ = 1``, all embeddings equal
    to one unit vector gives ``−2 + 1 = −1``.

    Args:
        z_a, z_b: embeddings of the two views, shape ``(batch, dim)``, ``batch ≥ 2``.
        mu: μ > 0, the squared radius of the ball the embeddings are projected onto.
        divide_by_mu: divide by ``μ`` as the authors' code does (default), or not.
        return_terms: return ``{"loss", "attraction", "repulsion"}`` (the positive and the negative part, each
            divided by ``μ`` when the loss is; their sum is the loss) instead.

    Returns:
        Scalar loss tensor, or the dict of ``return_terms``.

    Example:
        >>> import numpy as np
        >>> a = np.array([[1., 0.], [0., 0.5]])
        >>> b = np.array([[0.6, 0.8], [0., 1.]])
        >>> round(float(spectral_contrastive(a, b)), 6)  # −2·(0.6 + 0.5)/2 + (0² + 0.4²)/2
        -1.02
    """
    mu = check_positive(mu, "mu")
    z_a, z_b = check_pair(z_a, z_b)
    mu = ops.cast(mu, z_a.dtype)
    radius = ops.sqrt(mu)
    a, b = _project(z_a, radius), _project(z_b, radius)
    n = batch_size(a)
    attraction = -2.0 * ops.mean(ops.sum(a * b, axis=1))
    repulsion = off_diagonal_square_sum(ops.matmul(a, ops.transpose(b))) / (n * (n - 1.0))
    if divide_by_mu:
        attraction, repulsion = attraction / mu, repulsion / mu
    return loss_or_terms(attraction + repulsion, {"attraction": attraction, "repulsion": repulsion}, return_terms)


@keras.saving.register_keras_serializable(package="kspectral")
class SpectralContrastiveLoss(SignatureLoss):
    """Keras loss calling :func:`spectral_contrastive`: ``SpectralContrastiveLoss()(z_a, z_b)``, one scalar per batch;
    the hyper-parameters and their defaults are those of :func:`spectral_contrastive`. The loss is symmetric in
    Keras' ``(y_true, y_pred)``.

    Example:
        >>> loss = SpectralContrastiveLoss(mu=2.0)
        >>> SpectralContrastiveLoss.from_config(loss.get_config()).mu
        2.0
    """

    objective = staticmethod(spectral_contrastive)
    default_name = "spectral_contrastive"
    positive = ("mu",)
    flags = ("divide_by_mu",)


__all__ = ["SpectralContrastiveLoss", "project_to_ball", "spectral_contrastive"]
