"""VICReg (Bardes, Ponce & LeCun 2022, arXiv:2105.04906) and its variants VICReg-exp and VICReg-ctr (Garrido, Chen,
Bardes, Najman & LeCun 2023, arXiv:2206.02574, Eqs. 11-13).

Each function owns its weighted formula; ``return_terms=True`` returns ``{"loss": L, "invariance": ...,
"variance": ..., "covariance": ...}`` (the unweighted terms), which the method classes report as metrics.
"""

from __future__ import annotations

import keras
from keras import ops

from kspectral.catalog import VICREG
from kspectral.objectives._common import SignatureLoss, check_embeddings, check_nonnegative, check_pair
from kspectral.objectives._common import check_positive, loss_or_terms
from kspectral.objectives.tensors import as_float, batch_size, off_diagonal_square_sum
from kspectral.errors import InputError


def _invariance(z_a, z_b):
    return ops.mean(ops.square(z_a - z_b))


def _variance(z, epsilon, target=1.0):
    centred = z - ops.mean(z, axis=0, keepdims=True)
    var = ops.sum(ops.square(centred), axis=0) / (batch_size(z) - 1.0)
    std = ops.sqrt(var + epsilon)
    return ops.mean(ops.relu(target - std))


def _covariance(z):
    centred = z - ops.mean(z, axis=0, keepdims=True)
    cov = ops.matmul(ops.transpose(centred), centred) / (batch_size(z) - 1.0)
    dim = ops.cast(ops.shape(z)[1], z.dtype)
    return off_diagonal_square_sum(cov) / dim


def invariance_term(z_a, z_b):
    """Mean squared error between the two views: ``mean((z_a − z_b)²)`` over batch and dimensions.

    Args:
        z_a, z_b: ``(batch, dim)`` embeddings of one shape.
    """
    z_a, z_b = check_pair(z_a, z_b, min_batch=1)
    return _invariance(z_a, z_b)


def variance_term(z, epsilon=1e-4, target=1.0):
    """Hinge on the per-dimension standard deviation: ``mean_k relu(target − sqrt(Var_unbiased(z_k) + ε))``.

    Args:
        z: ``(batch, dim)`` embeddings, ``batch ≥ 2`` (the unbiased variance divides by ``batch − 1``).
        epsilon: ε > 0 added to the variance before the square root.
        target: the standard deviation the hinge asks for (VICReg's γ = 1).
    """
    z = check_embeddings(as_float(z), "z", min_batch=2)
    return _variance(z, check_positive(epsilon, "epsilon"), target)


def covariance_term(z):
    """Squared off-diagonal covariance: ``Σ_{k≠l} C_kl² / D`` with ``C = z̄ᵀz̄ / (N − 1)``, z̄ centred.

    Args:
        z: ``(batch, dim)`` embeddings, ``batch ≥ 2``.
    """
    return _covariance(check_embeddings(as_float(z), "z", min_batch=2))


def _three_term_loss(terms, invariance_weight, variance_weight, covariance_weight, return_terms):
    """``λ · invariance + μ · variance + ν · covariance``, the weighting shared by the VICReg family."""
    invariance_weight = check_nonnegative(invariance_weight, "invariance_weight")
    variance_weight = check_nonnegative(variance_weight, "variance_weight")
    covariance_weight = check_nonnegative(covariance_weight, "covariance_weight")
    loss = (
        invariance_weight * terms["invariance"]
        + variance_weight * terms["variance"]
        + covariance_weight * terms["covariance"]
    )
    return loss_or_terms(loss, terms, return_terms)


@keras.saving.register_keras_serializable(package="kspectral")
def vicreg(z_a, z_b, invariance_weight=VICREG.invariance_weight, variance_weight=VICREG.variance_weight,
           covariance_weight=VICREG.covariance_weight, epsilon=VICREG.epsilon, return_terms=False):
    """VICReg loss (Bardes et al. 2022, arXiv:2105.04906, Eq. 6), as the official ``main_vicreg.py`` computes it.

    ``L = λ · mean((z_a − z_b)²) + μ · [v(z_a) + v(z_b)] / 2 + ν · [c(z_a) + c(z_b)]`` with the standard-deviation
    hinge ``v`` of Eqs. 1-2 (:func:`variance_term`) and the covariance penalty ``c`` of Eqs. 3-4
    (:func:`covariance_term`). The official code averages the invariance term over the ``N·D`` entries and the
    hinge over the two views, which is what this function does (the paper's Eq. 5 sums over dimensions and Eq. 6
    sums the two hinges). Computed in float32 (float64 inputs stay float64), also under mixed precision.

    Args:
        z_a, z_b: embeddings of the two views, shape ``(batch, dim)``, ``batch ≥ 2``.
        invariance_weight: λ ≥ 0 (official 25).
        variance_weight: μ ≥ 0 (official 25).
        covariance_weight: ν ≥ 0 (official 1).
        epsilon: ε > 0 added to the variance before the square root (official 1e-4).
        return_terms: return ``{"loss", "invariance", "variance", "covariance"}`` (unweighted terms) instead.

    Returns:
        Scalar loss tensor, or the dict of ``return_terms``.

    Example:
        >>> import numpy as np
        >>> x = np.array([[1., 2.], [3., 1.], [0., 0.], [2., 5.]])
        >>> y = np.array([[1., 1.], [2., 1.], [0., 1.], [3., 4.]])
        >>> round(float(vicreg(x, y)), 4)
        18.875
    """
    epsilon = check_positive(epsilon, "epsilon")
    z_a, z_b = check_pair(z_a, z_b)
    terms = {
        "invariance": _invariance(z_a, z_b),
        "variance": 0.5 * (_variance(z_a, epsilon) + _variance(z_b, epsilon)),
        "covariance": _covariance(z_a) + _covariance(z_b),
    }
    return _three_term_loss(terms, invariance_weight, variance_weight, covariance_weight, return_terms)


def _check_min_dim(z, name, minimum=2, what="dimensions"):
    dim = z.shape[1]
    if dim is not None and dim < minimum:
        raise InputError(f"{name} has {dim} {what}; this objective needs at least {minimum}")


def _exp_covariance(z, temperature):
    """c_exp on an already checked float ``(n, d)`` tensor (no validation)."""
    centred = z - ops.mean(z, axis=0, keepdims=True)
    cov = ops.matmul(ops.transpose(centred), centred) / (batch_size(z) - 1.0)
    d = ops.shape(cov)[0]
    off_diagonal = ops.logical_not(ops.cast(ops.eye(d), "bool"))
    logits = ops.where(off_diagonal, cov / temperature, ops.cast(float("-inf"), z.dtype))
    return ops.mean(ops.logsumexp(logits, axis=1))


def exp_covariance_term(z, temperature=0.1):
    """LogSumExp covariance penalty ``c_exp`` of VICReg-exp (Garrido et al. 2023, arXiv:2206.02574, Eq. 11).

    ``c_exp(z) = (1/d) Σ_i log Σ_{j≠i} exp(C_ij / τ)`` with ``C = z̄ᵀz̄ / (N − 1)`` VICReg's covariance matrix of
    the column-centred ``(N, d)`` batch. Each dimension is pushed away from the dimension it is most correlated
    with (a soft maximum: as ``τ → 0``, ``τ · c_exp → mean_i max_{j≠i} C_ij``). For ``d = 2`` it is ``C_12 / τ``.

    Args:
        z: ``(batch, dim)`` embeddings, ``batch ≥ 2``, ``dim ≥ 2``.
        temperature: τ > 0.

    Returns:
        Scalar (float32, or float64 for float64 input).

    Example:
        >>> import numpy as np
        >>> x = np.array([[1., 2.], [3., 1.], [0., 0.], [2., 5.]])  # C_12 = 1
        >>> round(float(exp_covariance_term(x, temperature=0.5)), 6)
        2.0
    """
    z = check_embeddings(as_float(z), "z", min_batch=2)
    _check_min_dim(z, "z")
    return _exp_covariance(z, check_positive(temperature, "temperature"))


def _exp_family_terms(z_a, z_b, temperature, epsilon, transpose, center_dimensions=False):
    temperature = check_positive(temperature, "temperature")
    epsilon = check_positive(epsilon, "epsilon")
    z_a, z_b = check_pair(z_a, z_b)
    _check_min_dim(z_a, "z_a")
    terms = {"invariance": _invariance(z_a, z_b)}
    if transpose:
        if center_dimensions:
            z_a = z_a - ops.mean(z_a, axis=0, keepdims=True)
            z_b = z_b - ops.mean(z_b, axis=0, keepdims=True)
        z_a, z_b = ops.transpose(z_a), ops.transpose(z_b)
    terms["variance"] = 0.5 * (_variance(z_a, epsilon) + _variance(z_b, epsilon))
    terms["covariance"] = _exp_covariance(z_a, temperature) + _exp_covariance(z_b, temperature)
    return terms


@keras.saving.register_keras_serializable(package="kspectral")
def vicreg_exp(z_a, z_b, invariance_weight=VICREG.invariance_weight, variance_weight=VICREG.variance_weight,
               covariance_weight=VICREG.covariance_weight, temperature=0.1, epsilon=VICREG.epsilon,
               return_terms=False):
    """VICReg-exp (Garrido et al. 2023, arXiv:2206.02574, Eq. 12): VICReg with the covariance penalty ``c_exp``.

    ``L = λ · mean((z_a − z_b)²) + μ · [v(z_a) + v(z_b)] / 2 + ν · [c_exp(z_a) + c_exp(z_b)]``: only the
    covariance term differs from :func:`vicreg` (``c_exp`` is :func:`exp_covariance_term`, Eq. 11); the invariance
    and variance terms are scaled as in the official VICReg code. Eq. 12 sums the squared differences over the
    ``N·D`` entries and the hinges over the two views, so the paper's ``(λ, μ)`` are ``(λ·N·D, 2μ)`` here.

    The defaults are kspectral's choice (the paper's Table S6 values are not used here): VICReg's official
    ``λ = μ = 25``, ``ν = 1``, and ``τ = 0.1``, which keeps a 256-d embedding from collapsing on digits
    (``tests/test_objectives_dimension.py``).

    Args:
        z_a, z_b: embeddings of the two views, shape ``(batch, dim)``, ``batch ≥ 2``, ``dim ≥ 2``.
        invariance_weight: λ ≥ 0.
        variance_weight: μ ≥ 0.
        covariance_weight: ν ≥ 0.
        temperature: τ > 0 of ``c_exp``.
        epsilon: ε > 0 added to the variance in the hinge.
        return_terms: return ``{"loss", "invariance", "variance", "covariance"}`` (unweighted terms) instead.

    Returns:
        Scalar loss tensor (float32, or float64 for float64 inputs), or the dict of ``return_terms``.

    Example:
        >>> import numpy as np
        >>> x = np.array([[1., 2.], [3., 1.], [0., 0.], [2., 5.]])
        >>> round(float(vicreg_exp(x, x, temperature=0.5)), 6)  # ν · 2 · C_12/τ; the hinge is 0
        4.0
    """
    terms = _exp_family_terms(z_a, z_b, temperature, epsilon, transpose=False)
    return _three_term_loss(terms, invariance_weight, variance_weight, covariance_weight, return_terms)


@keras.saving.register_keras_serializable(package="kspectral")
def vicreg_ctr(z_a, z_b, invariance_weight=10.0, variance_weight=VICREG.variance_weight,
               covariance_weight=VICREG.covariance_weight, temperature=0.1, epsilon=VICREG.epsilon,
               center_dimensions=False, return_terms=False):
    """VICReg-ctr (Garrido et al. 2023, arXiv:2206.02574, Eq. 13): VICReg-exp on the transposed embeddings.

    ``L = λ · mean((z_a − z_b)²) + μ · [v(z_aᵀ) + v(z_bᵀ)] / 2 + ν · [c_exp(z_aᵀ) + c_exp(z_bᵀ)]``, with ``v`` and
    ``c_exp`` those of :func:`vicreg_exp` applied literally to the ``(D, N)`` transposes. So inside ``v`` and
    ``c_exp`` each embedding is centred over its ``D`` dimensions, the normaliser is ``1/(D − 1)`` and ``d = N``:
    ``c_exp(z_aᵀ)`` is a log-sum-exp over the other samples of the (centred) Gram matrix, DCL's repulsion, and
    ``v(z_aᵀ)`` holds each embedding's (centred) norm at ``√(D − 1)`` or more. ``center_dimensions=True`` also
    centres each dimension over the batch before the transpose (the "dims centred" of the paper's Table 1; for ``v``
    and ``c_exp`` only). The invariance term stays on the raw embeddings.

    The defaults are kspectral's choice (the paper's Table S6 values are not used here): ``τ = 0.1``, ``ν = 1``,
    ``μ = 25`` and ``λ = ν/τ = 10``, which weighs the attraction against the repulsion as DCL weighs ``−cos/τ``
    against its log-sum-exp (with unit-std centred embeddings ``mean((x − y)²) ≈ (2/N) Σ_i (1 − cos_i)``).

    Args:
        z_a, z_b: embeddings of the two views, shape ``(batch, dim)``, ``batch ≥ 2``, ``dim ≥ 2``.
        invariance_weight: λ ≥ 0.
        variance_weight: μ ≥ 0 (per-embedding standard-deviation hinge, averaged over the views).
        covariance_weight: ν ≥ 0 (``c_exp`` of the transposes, summed over the views).
        temperature: τ > 0 of ``c_exp``.
        epsilon: ε > 0 added to the variance in the hinge.
        center_dimensions: also centre each dimension over the batch before transposing.
        return_terms: return ``{"loss", "invariance", "variance", "covariance"}`` (unweighted terms) instead.

    Returns:
        Scalar loss tensor (float32, or float64 for float64 inputs), or the dict of ``return_terms``.

    Example:
        >>> import numpy as np
        >>> x = np.array([[1., 2.], [3., 1.], [0., 0.], [2., 5.]])
        >>> y = np.array([[1., 1.], [2., 1.], [0., 1.], [3., 4.]])
        >>> round(float(vicreg_ctr(x, y, covariance_weight=0.0)), 6)  # 10 · 0.625 + 25 · mean of the hinges
        16.097781
    """
    terms = _exp_family_terms(z_a, z_b, temperature, epsilon, transpose=True,
                              center_dimensions=bool(center_dimensions))
    return _three_term_loss(terms, invariance_weight, variance_weight, covariance_weight, return_terms)


_WEIGHTS = ("invariance_weight", "variance_weight", "covariance_weight")


@keras.saving.register_keras_serializable(package="kspectral")
class VICRegLoss(SignatureLoss):
    """Keras loss calling :func:`vicreg`: ``VICRegLoss()(z_a, z_b)`` returns the batch's scalar loss.

    The hyper-parameters and their defaults are those of :func:`vicreg`. The two views take Keras' ``(y_true,
    y_pred)`` positions; the loss is symmetric in them. One scalar per batch (the terms are batch statistics), in
    the inputs' float dtype unless ``dtype`` is given.

    Example:
        >>> loss = VICRegLoss(invariance_weight=25.0)
        >>> VICRegLoss.from_config(loss.get_config()).invariance_weight
        25.0
    """

    objective = staticmethod(vicreg)
    default_name = "vicreg"
    nonnegative = _WEIGHTS
    positive = ("epsilon",)


@keras.saving.register_keras_serializable(package="kspectral")
class VICRegExpLoss(SignatureLoss):
    """Keras loss calling :func:`vicreg_exp` (its hyper-parameters and defaults), one scalar per batch.

    Example:
        >>> VICRegExpLoss(temperature=0.2).get_config()["temperature"]
        0.2
    """

    objective = staticmethod(vicreg_exp)
    default_name = "vicreg_exp"
    nonnegative = _WEIGHTS
    positive = ("temperature", "epsilon")


@keras.saving.register_keras_serializable(package="kspectral")
class VICRegCtrLoss(SignatureLoss):
    """Keras loss calling :func:`vicreg_ctr` (its hyper-parameters and defaults), one scalar per batch.

    Example:
        >>> VICRegCtrLoss(center_dimensions=True).get_config()["center_dimensions"]
        True
    """

    objective = staticmethod(vicreg_ctr)
    default_name = "vicreg_ctr"
    nonnegative = _WEIGHTS
    positive = ("temperature", "epsilon")
    flags = ("center_dimensions",)

__all__ = [
    "VICRegCtrLoss",
    "VICRegExpLoss",
    "VICRegLoss",
    "covariance_term",
    "exp_covariance_term",
    "invariance_term",
    "variance_term",
    "vicreg",
    "vicreg_ctr",
    "vicreg_exp",
]
