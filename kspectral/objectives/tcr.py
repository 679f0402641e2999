"""Total coding rate (TCR): maximise the log-volume spanned by the embeddings (MCR²-style coding rate).

Spec: ``objectives.md`` A2 row 7 (Garrido et al. 2023 list TCR, after Li et al. 2022b, among the
dimension-contrastive methods, Prop. 3.2). The formula and ε are marked [unverified] in the spec: they are the
coding rate of Yu et al. 2020 (MCR²) as used by NMCE (Li et al. 2022b) and EMP-SSL (Tong et al. 2023); none of
those papers was available when this module was written.

Checks done for kspectral (``tests/test_objectives_dimension.py``), with ``z = Kᵀ`` of shape ``(N, M)`` and unit
rows, ``c = M / (N ε²)`` and ``R = ½ logdet(I_M + c zᵀz)``:

* ``R`` depends only on the eigenvalues ``λ_k`` of ``zᵀz`` (≥ 0, summing to ``tr zᵀz = N``):
  ``R = ½ Σ_k log(1 + c λ_k)``. That is concave in ``λ``, so over the simplex it is **minimal at a vertex**
  (rank one: every embedding ``±u``, i.e. collapse, ``R = ½ log(1 + M/ε²)``) and **maximal at equal
  eigenvalues**: orthonormal embeddings when ``N ≤ M`` (``R = (N/2) log(1 + M/(N ε²))``), a tight frame
  ``zᵀz = (N/M) I`` when ``N ≥ M`` (``R = (M/2) log(1 + 1/ε²)``). So the formula does what a
  dimension-contrastive regulariser should: it rewards spread, whitened embeddings and is worst at collapse.
* By Sylvester's identity ``det(I_M + c zᵀz) = det(I_N + c zzᵀ)``: the same value is a function of the
  ``N×N`` Gram matrix, the contrastive/non-contrastive duality of Paper A in log-det form. kspectral computes
  the smaller of the two determinants.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from kspectral.objectives._common import ObjectiveLoss, as_float, check_embeddings, check_pair, check_positive, l2_normalize

DEFAULT_EPSILON = math.sqrt(0.2)
"""ε of EMP-SSL's released code (``ε² = 0.2``) [unverified]; MCR² used ``ε² = 0.5``."""


def _coding_rate(z, epsilon):
    """Coding rate of an already checked, normalised float ``(N, M)`` tensor."""
    n_static, m_static = z.shape
    n = ops.cast(ops.shape(z)[0], z.dtype)
    m = ops.cast(ops.shape(z)[1], z.dtype)
    scale = m / (n * epsilon**2)
    if n_static is not None and m_static is not None and n_static < m_static:
        gram = ops.matmul(z, ops.transpose(z))  # N×N: same determinant (Sylvester), cheaper
        size = n_static
    else:
        gram = ops.matmul(ops.transpose(z), z)  # M×M
        size = ops.shape(z)[1] if m_static is None else m_static
    _, logabsdet = ops.slogdet(ops.eye(size, dtype=z.dtype) + scale * gram)  # positive definite: sign = 1
    return 0.5 * logabsdet


def coding_rate(z, epsilon=DEFAULT_EPSILON, normalize=True):
    """Total coding rate ``R = ½ logdet(I_M + (M / (N ε²)) zᵀz)`` of a batch of embeddings.

    ``z = Kᵀ`` has shape ``(N, M)`` (rows are samples); with ``normalize=True`` (the TCR setting) each
    embedding is first scaled to unit L2 norm. ``R`` is the number of nats needed to code the embeddings up to
    distortion ε under a Gaussian model (Yu et al. 2020): ``½ log(1 + M/ε²)`` for collapsed embeddings (all
    ``±u``), at most ``(min(N, M)/2) log(1 + max(M/N, 1)/ε²)``, reached by orthonormal (``N ≤ M``) or
    tight-frame (``N ≥ M``) embeddings. Formula and default ε are [unverified] (spec A2 row 7).

    Args:
        z: ``(batch, dim)`` embeddings.
        epsilon: ε > 0, the distortion (default ``√0.2``, EMP-SSL's ``ε² = 0.2``).
        normalize: scale each embedding to unit norm first.

    Returns:
        Scalar (float32, or float64 for float64 input). Maximise it.

    Example:
        >>> import numpy as np
        >>> round(float(coding_rate(np.eye(4), epsilon=0.2 ** 0.5)), 6)  # (4/2) log(1 + 4/(4·0.2))
        3.583519
    """
    z = check_embeddings(as_float(z), "z", min_batch=1)
    epsilon = check_positive(epsilon, "epsilon")
    if normalize:
        z = l2_normalize(z)
    return _coding_rate(z, epsilon)


def tcr_terms(z_a, z_b, epsilon=DEFAULT_EPSILON):
    """The two unweighted TCR terms (see :func:`tcr`).

    Returns:
        dict with scalars ``coding_rate = (R(ẑ_a) + R(ẑ_b)) / 2`` (to maximise) and
        ``invariance = mean_i (1 − cos(z_a,i, z_b,i))`` (to minimise).
    """
    epsilon = check_positive(epsilon, "epsilon")
    z_a, z_b = check_pair(z_a, z_b)
    za, zb = l2_normalize(z_a), l2_normalize(z_b)
    return {
        "coding_rate": 0.5 * (_coding_rate(za, epsilon) + _coding_rate(zb, epsilon)),
        "invariance": ops.mean(1.0 - ops.sum(za * zb, axis=1)),
    }


def tcr(z_a, z_b, epsilon=DEFAULT_EPSILON, invariance_weight=200.0):
    """Two-view TCR loss: maximise each view's coding rate, pull the two views of a sample together::

        L = −[R(ẑ_a) + R(ẑ_b)] / 2 + w · mean_i (1 − cos(z_a,i, z_b,i))

    with ``ẑ`` the L2-normalised embeddings and ``R`` :func:`coding_rate`. This is the two-view case of
    EMP-SSL's objective (Tong et al. 2023, after NMCE, Li et al. 2022b): ``−mean_views R(Z_v)`` plus ``λ``
    times a cosine invariance term, with ``λ = 200`` and ``ε² = 0.2`` from EMP-SSL's code. EMP-SSL compares
    each view to the mean of its views; with two views kspectral compares them directly (the same minimiser,
    a cosine of 1), and writes the term as ``1 − cos`` so that it is 0 at perfect invariance. The combination,
    ``w`` and ε are [unverified]: Paper A only names TCR, the NMCE / EMP-SSL papers were not available.

    Args:
        z_a, z_b: embeddings of the two views, shape ``(batch, dim)``, ``batch ≥ 2``.
        epsilon: ε of the coding rate.
        invariance_weight: w, weight of the cosine invariance term.

    Returns:
        Scalar loss tensor (float32, or float64 for float64 inputs).
    """
    terms = tcr_terms(z_a, z_b, epsilon)
    return invariance_weight * terms["invariance"] - terms["coding_rate"]


@keras.saving.register_keras_serializable(package="kspectral")
class TCRLoss(ObjectiveLoss):
    """Keras loss wrapping :func:`tcr`: ``TCRLoss()(z_a, z_b)`` returns the scalar loss.

    The two views take Keras' ``(y_true, y_pred)`` positions; the loss is symmetric in them.
    """

    objective = staticmethod(tcr)

    def __init__(self, epsilon=DEFAULT_EPSILON, invariance_weight=200.0, name="tcr", reduction="sum_over_batch_size",
                 dtype=None):
        super().__init__(name, reduction, dtype, epsilon=check_positive(epsilon, "epsilon"),
                         invariance_weight=float(invariance_weight))
