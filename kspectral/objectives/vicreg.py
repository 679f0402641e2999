"""VICReg: variance-invariance-covariance regularisation (Bardes, Ponce & LeCun, ICLR 2022), and its variants
VICReg-exp and VICReg-ctr (Garrido et al., ICLR 2023, Eqs. 11-13).

Spec: ``objectives.md`` A2 rows 5, 8, 9 and part C properties 12-19; ``theory.md`` §3.2 for the closed form VICReg
recovers (Laplacian eigenmaps of the positive-pair graph).
"""

from __future__ import annotations

import keras
from keras import ops

from kspectral.objectives._common import (
    ObjectiveLoss,
    as_float,
    batch_size,
    check_embeddings,
    check_pair,
    check_positive,
    off_diagonal_square_sum,
)


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
class VICRegLoss(ObjectiveLoss):
    """Keras loss wrapping :func:`vicreg`: ``VICRegLoss()(z_a, z_b)`` returns the scalar loss.

    The two views take Keras' ``(y_true, y_pred)`` positions; the loss is symmetric in them.

    Example:
        >>> loss = VICRegLoss(invariance_weight=25.0)
        >>> config = loss.get_config()
        >>> VICRegLoss.from_config(config).invariance_weight
        25.0
    """

    objective = staticmethod(vicreg)

    def __init__(self, invariance_weight=25.0, variance_weight=25.0, covariance_weight=1.0, epsilon=1e-4,
                 name="vicreg", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name, reduction, dtype, invariance_weight=float(invariance_weight),
                         variance_weight=float(variance_weight), covariance_weight=float(covariance_weight),
                         epsilon=float(epsilon))


# ---------------------------------------------------------------------------------------------------------------
# VICReg-exp and VICReg-ctr (Garrido et al., ICLR 2023, Eqs. 11-13): the LogSumExp covariance and its transpose.
# ---------------------------------------------------------------------------------------------------------------


def _check_min_dim(z, name, minimum=2, what="dimensions"):
    dim = z.shape[1]
    if dim is not None and dim < minimum:
        raise ValueError(f"{name} has {dim} {what}; this objective needs at least {minimum}")


def _exp_covariance(z, temperature):
    """c_exp on an already checked float ``(n, d)`` tensor (no validation)."""
    centred = z - ops.mean(z, axis=0, keepdims=True)
    cov = ops.matmul(ops.transpose(centred), centred) / (batch_size(z) - 1.0)
    d = ops.shape(cov)[0]
    off_diagonal = ops.logical_not(ops.cast(ops.eye(d), "bool"))
    logits = ops.where(off_diagonal, cov / temperature, ops.cast(float("-inf"), z.dtype))
    return ops.mean(ops.logsumexp(logits, axis=1))


def exp_covariance_term(z, temperature=0.1):
    """LogSumExp covariance penalty ``c_exp`` of VICReg-exp (Garrido et al. 2023, Eq. 11)::

        c_exp(z) = (1/d) Σ_i log Σ_{j≠i} exp(C_ij / τ),     C = z̄ᵀ z̄ / (N − 1)

    with ``z̄`` the column-centred ``(N, d)`` batch, i.e. ``C`` is exactly VICReg's (unbiased) covariance matrix
    of :func:`covariance_term` and ``d`` its size. It replaces VICReg's ``Σ_{i≠j} C_ij² / d``: each dimension
    is pushed away from the dimension it is most correlated with (a soft maximum at temperature ``τ``; as
    ``τ → 0``, ``τ · c_exp → mean_i max_{j≠i} C_ij``). For ``d = 2`` it is ``C_12 / τ``.
    Spec: ``objectives.md`` A2 row 8; part C properties 17-18.

    Args:
        z: ``(batch, dim)`` embeddings, ``batch ≥ 2``, ``dim ≥ 2``.
        temperature: τ > 0.

    Returns:
        Scalar (float32, or float64 for float64 input).
    """
    z = check_embeddings(as_float(z), "z", min_batch=2)
    _check_min_dim(z, "z")
    return _exp_covariance(z, check_positive(temperature, "temperature"))


def _exp_family_terms(z_a, z_b, temperature, epsilon, transpose, center_dimensions=False):
    temperature = check_positive(temperature, "temperature")
    z_a, z_b = check_pair(z_a, z_b)
    _check_min_dim(z_a, "z_a")
    terms = {"invariance": invariance_term(z_a, z_b)}
    if transpose:
        if center_dimensions:
            z_a = z_a - ops.mean(z_a, axis=0, keepdims=True)
            z_b = z_b - ops.mean(z_b, axis=0, keepdims=True)
        z_a, z_b = ops.transpose(z_a), ops.transpose(z_b)
    terms["variance"] = 0.5 * (variance_term(z_a, epsilon) + variance_term(z_b, epsilon))
    terms["covariance"] = _exp_covariance(z_a, temperature) + _exp_covariance(z_b, temperature)
    return terms


def _weighted(terms, invariance_weight, variance_weight, covariance_weight):
    return (
        invariance_weight * terms["invariance"]
        + variance_weight * terms["variance"]
        + covariance_weight * terms["covariance"]
    )


def vicreg_exp_terms(z_a, z_b, temperature=0.1, epsilon=1e-4):
    """The three unweighted VICReg-exp terms (see :func:`vicreg_exp`).

    Returns:
        dict with scalars ``invariance = mean((z_a − z_b)²)``, ``variance = (v(z_a) + v(z_b)) / 2`` and
        ``covariance = c_exp(z_a) + c_exp(z_b)``.
    """
    return _exp_family_terms(z_a, z_b, temperature, epsilon, transpose=False)


def vicreg_exp(
    z_a,
    z_b,
    invariance_weight=25.0,
    variance_weight=25.0,
    covariance_weight=1.0,
    temperature=0.1,
    epsilon=1e-4,
):
    """VICReg-exp (Garrido et al. 2023, Eq. 12): VICReg with the LogSumExp covariance penalty ``c_exp``.

    With ``x = z_a``, ``y = z_b`` of shape ``(N, D)``::

        L = λ · mean((x − y)²) + μ · [v(x) + v(y)] / 2 + ν · [c_exp(x) + c_exp(y)]

    ``v`` is VICReg's standard-deviation hinge (:func:`variance_term`) and ``c_exp`` is
    :func:`exp_covariance_term`. Only the covariance term differs from :func:`vicreg`; the invariance and
    variance terms are scaled exactly as in kspectral's :func:`vicreg` (the official code). Relation to the
    paper's notation: Eq. 12 writes ``λ Σ_i ‖K_i − K'_i‖² + μ (v(K) + v(K'))``, a *sum* over the ``N·D``
    entries and over the two views, so the paper's ``(λ, μ)`` correspond to ``(λ·N·D, 2μ)`` here.
    Spec: ``objectives.md`` A2 row 8; part C properties 17-18.

    Default hyper-parameters: the paper's values (its Table S6) are not available, and ``τ = 0.5`` is reported to
    collapse. kspectral keeps VICReg's official weights ``λ = μ = 25``, ``ν = 1`` (the paper describes
    VICReg-exp as VICReg with only the covariance term changed) and uses ``τ = 0.1``: the gradient of ``c_exp``
    with respect to ``C_ij`` is ``softmax_j(C_ij/τ) / (τ d)``, so at ``τ = 0.1`` a strongly correlated pair gets
    about ``10/d``, several times VICReg's ``2 C_ij / d``, while at ``τ = 0.5`` it gets only ``2/d`` and the
    decorrelation force is spread thin over all ``d − 1`` partners. Measured when this was written (MLP encoder,
    256-d projector, digits, 15 epochs): the RankMe of the embeddings was 37 / 25 / 19 / 14 at
    ``τ = 0.05 / 0.1 / 0.2 / 0.5`` (VICReg: 43), so larger ``τ`` drifts towards dimensional collapse, while
    ``τ = 0.05`` no longer met the std target (0.72 < 1). ``tests/test_objectives_dimension.py`` trains that
    MLP with the defaults and checks that the embeddings do not collapse. These defaults are a kspectral
    choice, not the paper's.

    Args:
        z_a, z_b: embeddings of the two views, shape ``(batch, dim)``, ``batch ≥ 2``, ``dim ≥ 2``.
        invariance_weight: λ (weight of the mean squared error between the views).
        variance_weight: μ (weight of the standard-deviation hinge, averaged over the views).
        covariance_weight: ν (weight of ``c_exp``, summed over the views).
        temperature: τ of ``c_exp``.
        epsilon: ε added to the variance in the hinge.

    Returns:
        Scalar loss tensor (float32, or float64 for float64 inputs).
    """
    terms = vicreg_exp_terms(z_a, z_b, temperature, epsilon)
    return _weighted(terms, invariance_weight, variance_weight, covariance_weight)


def vicreg_ctr_terms(z_a, z_b, temperature=0.1, epsilon=1e-4, center_dimensions=False):
    """The three unweighted VICReg-ctr terms (see :func:`vicreg_ctr`).

    Returns:
        dict with scalars ``invariance = mean((z_a − z_b)²)``, ``variance = (v(z_aᵀ) + v(z_bᵀ)) / 2`` and
        ``covariance = c_exp(z_aᵀ) + c_exp(z_bᵀ)``.
    """
    return _exp_family_terms(z_a, z_b, temperature, epsilon, transpose=True, center_dimensions=center_dimensions)


def vicreg_ctr(
    z_a,
    z_b,
    invariance_weight=10.0,
    variance_weight=25.0,
    covariance_weight=1.0,
    temperature=0.1,
    epsilon=1e-4,
    center_dimensions=False,
):
    """VICReg-ctr (Garrido et al. 2023, Eq. 13): VICReg-exp with the embeddings transposed before ``v`` and
    ``c_exp``, a sample-contrastive loss::

        L = λ · mean((x − y)²) + μ · [v(xᵀ) + v(yᵀ)] / 2 + ν · [c_exp(xᵀ) + c_exp(yᵀ)]

    for ``x = z_a``, ``y = z_b`` of shape ``(N, D)``. The functions ``v`` and ``c_exp`` are the same as in
    :func:`vicreg_exp`, applied literally to the ``(D, N)`` transposes, which settles the points the paper
    leaves open (spec A2 row 9; its Sec. I pseudocode is not available):

    * **centring**: inside ``v`` and ``c_exp`` each *embedding* is centred over its ``D`` dimensions (VICReg's
      column centring, transposed). Table 1 lists VICReg-ctr with "dims centred"; ``center_dimensions=True``
      also centres each dimension over the batch before the transpose (for ``v`` and ``c_exp`` only, the
      invariance term stays on the raw embeddings). Off by default so that the loss is exactly Eq. 13.
    * **normaliser**: ``C(xᵀ) = x̃ x̃ᵀ / (D − 1)`` with ``x̃`` the row-centred ``x``: the ``1/(N−1)`` of VICReg
      becomes ``1/(D−1)``, so ``C(xᵀ)_ij`` is the covariance of embeddings ``i`` and ``j`` across dimensions,
      and once ``v(xᵀ)`` holds every embedding's std at ≥ 1 it is their (centred) cosine similarity scaled by
      the stds: ``c_exp(xᵀ)`` is then DCL's repulsive term, as the paper says ("the same repulsive force as
      in DCL").
    * **d**: the size of ``C(xᵀ)``, i.e. the batch size ``N``: ``c_exp(xᵀ)`` is a mean over samples.
    * ``v(xᵀ)`` is the hinge on each embedding's std across its dimensions (unbiased, ``D − 1``), i.e. it
      regularises the (centred) embedding norms to at least ``√(D − 1)``.

    Default hyper-parameters (the paper's Table S6 is not available; kspectral's choice): ``τ = 0.1``, ``ν = 1``,
    ``μ = 25`` and ``λ = 10``. With unit-std centred embeddings ``mean((x − y)²) ≈ (2/N) Σ_i (1 − cos_i)``, so
    ``λ = ν / τ`` weighs the attraction against the repulsion ``c_exp(xᵀ) + c_exp(yᵀ)`` as DCL weighs its
    ``−cos/τ`` positive term against its log-sum-exp over negatives. Measured when this was written (MLP
    encoder, 256-d projector, digits, 15 epochs), the embeddings' RankMe was 54 with the defaults, 56 with
    ``(τ, λ) = (0.2, 5)`` and 50 with ``(0.5, 2)``, but 24 with ``(0.5, 10)``: what matters is ``λ ≈ ν/τ``.
    ``tests/test_objectives_dimension.py`` trains that MLP with the defaults and checks that the embeddings do
    not collapse.

    Args:
        z_a, z_b: embeddings of the two views, shape ``(batch, dim)``, ``batch ≥ 2``, ``dim ≥ 2``.
        invariance_weight: λ (weight of the mean squared error between the views).
        variance_weight: μ (weight of the per-embedding standard-deviation hinge, averaged over the views).
        covariance_weight: ν (weight of ``c_exp`` of the transposes, summed over the views).
        temperature: τ of ``c_exp``.
        epsilon: ε added to the variance in the hinge.
        center_dimensions: also centre each dimension over the batch before transposing (Table 1's reading).

    Returns:
        Scalar loss tensor (float32, or float64 for float64 inputs).
    """
    terms = vicreg_ctr_terms(z_a, z_b, temperature, epsilon, center_dimensions)
    return _weighted(terms, invariance_weight, variance_weight, covariance_weight)


@keras.saving.register_keras_serializable(package="kspectral")
class VICRegExpLoss(ObjectiveLoss):
    """Keras loss wrapping :func:`vicreg_exp`: ``VICRegExpLoss()(z_a, z_b)`` returns the scalar loss.

    The two views take Keras' ``(y_true, y_pred)`` positions; the loss is symmetric in them.
    """

    objective = staticmethod(vicreg_exp)

    def __init__(self, invariance_weight=25.0, variance_weight=25.0, covariance_weight=1.0, temperature=0.1,
                 epsilon=1e-4, name="vicreg_exp", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name, reduction, dtype, invariance_weight=float(invariance_weight),
                         variance_weight=float(variance_weight), covariance_weight=float(covariance_weight),
                         temperature=check_positive(temperature, "temperature"), epsilon=float(epsilon))


@keras.saving.register_keras_serializable(package="kspectral")
class VICRegCtrLoss(ObjectiveLoss):
    """Keras loss wrapping :func:`vicreg_ctr`: ``VICRegCtrLoss()(z_a, z_b)`` returns the scalar loss.

    The two views take Keras' ``(y_true, y_pred)`` positions; the loss is symmetric in them.
    """

    objective = staticmethod(vicreg_ctr)

    def __init__(self, invariance_weight=10.0, variance_weight=25.0, covariance_weight=1.0, temperature=0.1,
                 epsilon=1e-4, center_dimensions=False, name="vicreg_ctr", reduction="sum_over_batch_size",
                 dtype=None):
        super().__init__(name, reduction, dtype, invariance_weight=float(invariance_weight),
                         variance_weight=float(variance_weight), covariance_weight=float(covariance_weight),
                         temperature=check_positive(temperature, "temperature"), epsilon=float(epsilon),
                         center_dimensions=bool(center_dimensions))
