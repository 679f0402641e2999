"""Total coding rate (TCR): maximise the log-volume spanned by the embeddings.

The coding rate is that of MCR² (Yu et al. 2020, arXiv:2006.08558); the two-view objective is the two-view case of
EMP-SSL (Tong et al. 2023, arXiv:2304.03977), after NMCE (Li et al. 2022). Garrido et al. 2023 (arXiv:2206.02574,
Prop. 3.2) list TCR among the dimension-contrastive methods.

With ``z = Kᵀ`` of shape ``(N, M)`` and unit rows, ``c = M / (N ε²)`` and ``R = ½ logdet(I_M + c zᵀz)``:

* ``R = ½ Σ_k log(1 + c λ_k)`` over the eigenvalues ``λ_k ≥ 0`` of ``zᵀz`` (which sum to ``N``). It is concave in
  ``λ``, so over the simplex it is minimal at a vertex (rank one: every embedding ``±u``, i.e. collapse,
  ``R = ½ log(1 + M/ε²)``) and maximal at equal eigenvalues: orthonormal embeddings when ``N ≤ M``
  (``R = (N/2) log(1 + M/(N ε²))``), a tight frame ``zᵀz = (N/M) I`` when ``N ≥ M`` (``R = (M/2) log(1 + 1/ε²)``).
* By Sylvester's identity ``det(I_M + c zᵀz) = det(I_N + c zzᵀ)``: the same value is a function of the ``N×N``
  Gram matrix (the contrastive / non-contrastive duality of Garrido et al. in log-det form). kspectral computes the
  smaller of the two determinants.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from kspectral.objectives._common import SignatureLoss, check_embeddings, check_nonnegative, check_pair
from kspectral.objectives._common import check_positive, loss_or_terms
from kspectral.objectives.tensors import as_float, l2_normalize

DEFAULT_EPSILON = math.sqrt(0.2)
"""ε of EMP-SSL's released code (``ε² = 0.2``); MCR² used ``ε² = 0.5``."""


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
    """Total coding rate ``R = ½ logdet(I_M + (M / (N ε²)) zᵀz)`` of a batch of embeddings (MCR², Yu et al. 2020).

    ``z = Kᵀ`` has shape ``(N, M)`` (rows are samples); with ``normalize=True`` (the TCR setting) each embedding is
    first scaled to unit L2 norm. ``R`` is ``½ log(1 + M/ε²)`` for collapsed embeddings (all ``±u``) and at most
    ``(min(N, M)/2) log(1 + max(M/N, 1)/ε²)``, reached by orthonormal (``N ≤ M``) or tight-frame (``N ≥ M``)
    embeddings.

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


@keras.saving.register_keras_serializable(package="kspectral")
def tcr(z_a, z_b, epsilon=DEFAULT_EPSILON, invariance_weight=200.0, return_terms=False):
    """Two-view TCR loss: maximise each view's coding rate, pull the two views of a sample together.

    ``L = −[R(ẑ_a) + R(ẑ_b)] / 2 + w · mean_i (1 − cos(z_a,i, z_b,i))`` with ``ẑ`` the L2-normalised embeddings and
    ``R`` :func:`coding_rate`: EMP-SSL's objective (Tong et al. 2023, arXiv:2304.03977) with two views,
    ``w = 200`` and ``ε² = 0.2`` from its released code. EMP-SSL compares each view to the mean of the views; with
    two views kspectral compares them directly (the same minimiser, a cosine of 1) and writes the term as
    ``1 − cos`` so that it is 0 at perfect invariance.

    Args:
        z_a, z_b: embeddings of the two views, shape ``(batch, dim)``, ``batch ≥ 2``.
        epsilon: ε > 0 of the coding rate.
        invariance_weight: w ≥ 0, weight of the cosine invariance term.
        return_terms: return ``{"loss", "coding_rate", "invariance"}`` (``(R(ẑ_a) + R(ẑ_b))/2``, to maximise,
            and ``mean_i (1 − cos)``) instead.

    Returns:
        Scalar loss tensor (float32, or float64 for float64 inputs), or the dict of ``return_terms``.

    Example:
        >>> import numpy as np
        >>> round(float(tcr(np.eye(4), np.eye(4))), 6)  # −R(I₄), the views agree
        -3.583519
    """
    epsilon = check_positive(epsilon, "epsilon")
    invariance_weight = check_nonnegative(invariance_weight, "invariance_weight")
    z_a, z_b = check_pair(z_a, z_b)
    za, zb = l2_normalize(z_a), l2_normalize(z_b)
    terms = {
        "coding_rate": 0.5 * (_coding_rate(za, epsilon) + _coding_rate(zb, epsilon)),
        "invariance": ops.mean(1.0 - ops.sum(za * zb, axis=1)),
    }
    return loss_or_terms(invariance_weight * terms["invariance"] - terms["coding_rate"], terms, return_terms)


@keras.saving.register_keras_serializable(package="kspectral")
class TCRLoss(SignatureLoss):
    """Keras loss calling :func:`tcr`: ``TCRLoss()(z_a, z_b)``, one scalar per batch; the hyper-parameters and
    their defaults are those of :func:`tcr`. The loss is symmetric in Keras' ``(y_true, y_pred)``.

    Example:
        >>> TCRLoss(invariance_weight=50.0).get_config()["invariance_weight"]
        50.0
    """

    objective = staticmethod(tcr)
    default_name = "tcr"
    nonnegative = ("invariance_weight",)
    positive = ("epsilon",)


__all__ = ["DEFAULT_EPSILON", "TCRLoss", "coding_rate", "tcr"]
