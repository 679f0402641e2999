"""Spectral contrastive loss (HaoChen, Wei, Gaidon & Ma, NeurIPS 2021).

Spec: ``objectives.md`` A1 ("SCL projects embeddings onto a ball of radius √μ"), A2 row 4, part C property 35.
Paper A (Prop. 3.2) classes it as sample-contrastive: its negative term is a squared-similarity ``L_c``.
"""

from __future__ import annotations

import keras
from keras import ops

from kspectral.objectives._common import ObjectiveLoss, batch_size, check_pair, check_positive, off_diagonal_square_sum

_EPSILON = 1e-12


def project_to_ball(z, radius, epsilon=_EPSILON):
    """Project every row of ``z`` onto the ball of the given radius: ``z_i · min(1, radius / ‖z_i‖)``.

    Rows already inside the ball (``‖z_i‖ ≤ radius``) are left untouched, and so are their gradients;
    longer rows are rescaled to norm ``radius``. The norm is clamped at ``sqrt(epsilon)``, so ``z_i = 0``
    is finite with finite gradients.
    """
    norm = ops.sqrt(ops.maximum(ops.sum(ops.square(z), axis=1, keepdims=True), epsilon))
    return z * ops.minimum(ops.ones_like(norm), radius / norm)


def spectral_contrastive(z_a, z_b, mu=1.0):
    """Spectral contrastive loss (HaoChen et al. 2021; spec A2 row 4).

    With ``f(x)`` the embeddings after projection onto the ball of radius ``√μ``::

        L = −2 E_{(x,x⁺)}[f(x)ᵀf(x⁺)] + E_{(x,x⁻)}[(f(x)ᵀf(x⁻))²]
          = −(2/B) Σ_i a_iᵀb_i + 1/(B(B−1)) Σ_{i≠j} (a_iᵀb_j)²

    where ``a_i``, ``b_i`` are the projected rows of ``z_a``, ``z_b``. **Positive pairs**: ``(a_i, b_i)``.
    **Negative pairs**: ``(a_i, b_j)`` for every ``i ≠ j``, the ``B(B−1)`` off-diagonal entries of the
    cross-view Gram matrix ``A Bᵀ`` (same-view pairs ``(a_i, a_j)`` are *not* used), as in the authors'
    reference code. The loss is symmetric in the two views.

    Projection: a row is rescaled to norm ``√μ`` only when its norm exceeds ``√μ``; shorter rows are kept
    as they are (the authors' ``mask * z + (1 − mask) * normalize(z) * √μ``). Widely copied versions of the
    reference code also divide the result by ``μ``; the spec's formula does not, and neither does this
    function (identical at the default ``μ = 1``). The minimum is not 0: all embeddings equal to one unit
    vector gives ``−2 + 1 = −1`` (at ``μ = 1``).

    Args:
        z_a, z_b: embeddings of the two views, shape ``(batch, dim)``, ``batch ≥ 2``.
        mu: μ > 0, the squared radius of the ball the embeddings are projected onto.

    Returns:
        Scalar loss tensor.

    Example:
        >>> import numpy as np
        >>> a = np.array([[1., 0.], [0., 0.5]])
        >>> b = np.array([[0.6, 0.8], [0., 1.]])
        >>> round(float(spectral_contrastive(a, b)), 6)  # −2·(0.6 + 0.5)/2 + (0² + 0.4²)/2
        -1.02
    """
    check_positive(mu, "mu")
    z_a, z_b = check_pair(z_a, z_b)
    radius = ops.sqrt(ops.cast(mu, z_a.dtype))
    a, b = project_to_ball(z_a, radius), project_to_ball(z_b, radius)
    n = batch_size(a)
    positive = ops.mean(ops.sum(a * b, axis=1))
    negative = off_diagonal_square_sum(ops.matmul(a, ops.transpose(b))) / (n * (n - 1.0))
    return -2.0 * positive + negative


@keras.saving.register_keras_serializable(package="kspectral")
class SpectralContrastiveLoss(ObjectiveLoss):
    """Keras loss wrapping :func:`spectral_contrastive`: ``SpectralContrastiveLoss()(z_a, z_b)``.

    The two views take Keras' ``(y_true, y_pred)`` positions; the loss is symmetric in them.

    Example:
        >>> loss = SpectralContrastiveLoss(mu=2.0)
        >>> SpectralContrastiveLoss.from_config(loss.get_config()).mu
        2.0
    """

    objective = staticmethod(spectral_contrastive)

    def __init__(self, mu=1.0, name="spectral_contrastive", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name, reduction, dtype, mu=check_positive(mu, "mu"))


__all__ = ["SpectralContrastiveLoss", "project_to_ball", "spectral_contrastive"]
