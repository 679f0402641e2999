"""VICReg: variance-invariance-covariance regularisation (Bardes, Ponce & LeCun, ICLR 2022).

Spec: ``objectives.md`` A2 row 5 (official formula) and part C properties 12-16; ``theory.md`` §3.2 for the
closed form it recovers (Laplacian eigenmaps of the positive-pair graph).
"""

from __future__ import annotations

import keras
from keras import ops

from kspectral.objectives._common import batch_size, check_pair, off_diagonal_square_sum


def invariance_term(z_a, z_b):
    """Mean squared error between the two views: ``mean((z_a - z_b)²)`` over batch and dimensions."""
    return ops.mean(ops.square(z_a - z_b))


def variance_term(z, epsilon=1e-4, target=1.0):
    """Hinge on the per-dimension standard deviation: ``mean_k relu(target − sqrt(Var_unbiased(z_k) + ε))``."""
    centred = z - ops.mean(z, axis=0, keepdims=True)
    var = ops.sum(ops.square(centred), axis=0) / (batch_size(z) - 1.0)
    std = ops.sqrt(var + epsilon)
    return ops.mean(ops.relu(target - std))


def covariance_term(z):
    """Squared off-diagonal covariance: ``Σ_{k≠l} C_kl² / D`` with ``C = z̄ᵀz̄ / (N − 1)``, z̄ centred."""
    centred = z - ops.mean(z, axis=0, keepdims=True)
    cov = ops.matmul(ops.transpose(centred), centred) / (batch_size(z) - 1.0)
    dim = ops.cast(ops.shape(z)[1], z.dtype)
    return off_diagonal_square_sum(cov) / dim


def vicreg_terms(z_a, z_b, epsilon=1e-4):
    """The three unweighted VICReg terms, as the official code computes them.

    Args:
        z_a, z_b: embeddings of the two views, shape ``(batch, dim)``, ``batch ≥ 2``.
        epsilon: added to the variance before the square root.

    Returns:
        dict with scalar tensors ``invariance = mean((z_a − z_b)²)``,
        ``variance = (v(z_a) + v(z_b)) / 2`` and ``covariance = c(z_a) + c(z_b)``.
    """
    z_a, z_b = check_pair(z_a, z_b)
    return {
        "invariance": invariance_term(z_a, z_b),
        "variance": 0.5 * (variance_term(z_a, epsilon) + variance_term(z_b, epsilon)),
        "covariance": covariance_term(z_a) + covariance_term(z_b),
    }


def vicreg(z_a, z_b, invariance_weight=25.0, variance_weight=25.0, covariance_weight=1.0, epsilon=1e-4):
    """VICReg loss, exactly as ``facebookresearch/vicreg`` ``main_vicreg.py`` computes it.

    With ``x = z_a`` and ``y = z_b`` of shape ``(N, D)`` (rows are samples)::

        L = λ · mean((x − y)²)
          + μ · [ v(x) + v(y) ] / 2,      v(x) = mean_k relu(1 − sqrt(Var(x_k) + ε))
          + ν · [ c(x) + c(y) ],          c(x) = Σ_{k≠l} C(x)_kl² / D,  C(x) = x̄ᵀx̄ / (N − 1)

    where ``Var`` is the unbiased variance over the batch and ``x̄`` is ``x`` with centred columns. Defaults are
    the official ``λ = μ = 25``, ``ν = 1``, ``ε = 1e-4``. The loss is computed in float32 (float64 inputs stay
    float64), also under mixed precision. (Spec: ``objectives.md`` A2 row 5; C properties 12-16.)

    Args:
        z_a, z_b: embeddings of the two views, shape ``(batch, dim)``, ``batch ≥ 2``.
        invariance_weight: λ, weight of the mean squared error between views.
        variance_weight: μ, weight of the standard-deviation hinge.
        covariance_weight: ν, weight of the off-diagonal covariance penalty.
        epsilon: ε added to the variance before the square root.

    Returns:
        Scalar loss tensor.

    Example:
        >>> import numpy as np
        >>> x = np.array([[1., 2.], [3., 1.], [0., 0.], [2., 5.]])
        >>> y = np.array([[1., 1.], [2., 1.], [0., 1.], [3., 4.]])
        >>> round(float(vicreg(x, y)), 4)
        18.875
    """
    terms = vicreg_terms(z_a, z_b, epsilon)
    return (
        invariance_weight * terms["invariance"]
        + variance_weight * terms["variance"]
        + covariance_weight * terms["covariance"]
    )


@keras.saving.register_keras_serializable(package="kspectral")
class VICRegLoss(keras.losses.Loss):
    """Keras loss wrapping :func:`vicreg`: ``VICRegLoss()(z_a, z_b)`` returns the scalar loss.

    The two views take Keras' ``(y_true, y_pred)`` positions; the loss is symmetric in them.

    Example:
        >>> loss = VICRegLoss(invariance_weight=25.0)
        >>> config = loss.get_config()
        >>> VICRegLoss.from_config(config).invariance_weight
        25.0
    """

    def __init__(
        self,
        invariance_weight=25.0,
        variance_weight=25.0,
        covariance_weight=1.0,
        epsilon=1e-4,
        name="vicreg",
        reduction="sum_over_batch_size",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.invariance_weight = float(invariance_weight)
        self.variance_weight = float(variance_weight)
        self.covariance_weight = float(covariance_weight)
        self.epsilon = float(epsilon)

    def call(self, z_a, z_b):
        return vicreg(
            z_a, z_b, self.invariance_weight, self.variance_weight, self.covariance_weight, self.epsilon
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            invariance_weight=self.invariance_weight,
            variance_weight=self.variance_weight,
            covariance_weight=self.covariance_weight,
            epsilon=self.epsilon,
        )
        return config
