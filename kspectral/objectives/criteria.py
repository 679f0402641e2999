"""Sample- and dimension-contrastive criteria L_c and L_nc (Garrido et al. 2023, arXiv:2206.02574, Def. 3.2,
Thm. 3.3).

The paper writes the embedding matrix as ``K ∈ R^{M×N}``
(columns are samples). kspectral is batch-first: these functions take ``z = Kᵀ`` of shape ``(N, M)``
(rows are samples), so ``sample_contrastive(z)`` is the paper's ``L_c(K)``.
"""

from __future__ import annotations

from keras import ops

from kspectral._validation import check_positive_int
from kspectral.objectives._common import check_embeddings
from kspectral.objectives.tensors import as_float, off_diagonal_square_sum


def sample_contrastive(z):
    """Sample-contrastive criterion ``L_c = ‖KᵀK − diag(KᵀK)‖_F² = Σ_{i≠i'} (z_i·z_i')²``.

    Args:
        z: ``(samples, dims)`` matrix (the paper's ``Kᵀ``).

    Returns:
        Scalar: the squared off-diagonal entries of the ``N×N`` Gram matrix, summed.
    """
    z = check_embeddings(as_float(z), "z", min_batch=1)
    return off_diagonal_square_sum(ops.matmul(z, ops.transpose(z)))


def dimension_contrastive(z):
    """Dimension-contrastive criterion ``L_nc = ‖KKᵀ − diag(KKᵀ)‖_F² = Σ_{j≠j'} (z^j·z^j')²``.

    Args:
        z: ``(samples, dims)`` matrix (the paper's ``Kᵀ``); ``z^j`` is column ``j``.

    Returns:
        Scalar: the squared off-diagonal entries of the ``M×M`` matrix ``zᵀz``, summed.
    """
    z = check_embeddings(as_float(z), "z", min_batch=1)
    return off_diagonal_square_sum(ops.matmul(ops.transpose(z), z))


def sample_norms4(z):
    """``Σ_i ‖z_i‖⁴``: the fourth powers of the embedding (row) norms, summed (``z``: ``(samples, dims)``)."""
    z = check_embeddings(as_float(z), "z", min_batch=1)
    return ops.sum(ops.square(ops.sum(ops.square(z), axis=1)))


def dimension_norms4(z):
    """``Σ_j ‖z^j‖⁴``: the fourth powers of the dimension (column) norms, summed (``z``: ``(samples, dims)``)."""
    z = check_embeddings(as_float(z), "z", min_batch=1)
    return ops.sum(ops.square(ops.sum(ops.square(z), axis=0)))


def duality_gap(z):
    """Theorem 3.3 residual ``L_nc + Σ_j‖z^j‖⁴ − L_c − Σ_i‖z_i‖⁴``; zero for every ``z`` (up to rounding).

    The identity holds because ``‖KᵀK‖_F² = ‖KKᵀ‖_F² = tr((KᵀK)²)``: the two criteria differ only by the
    norms of the rows and columns, so with both normalised they are equivalent objectives.
    """
    return dimension_contrastive(z) + dimension_norms4(z) - sample_contrastive(z) - sample_norms4(z)


def regularizer_lreg(z):
    """``L_reg = Σ_i ‖z_i‖⁴ − Σ_j ‖z^j‖⁴`` (Garrido et al. 2023, Eq. 10), so that ``L_c + L_reg = L_nc``.

    Garrido et al. rewrite VICReg's covariance term, ``L_nc`` of the centred embeddings, as ``L_c + L_reg``
    (Theorem 3.3): with it, VICReg is a sample-contrastive loss plus a norm regulariser.

    Args:
        z: ``(samples, dims)`` matrix (the paper's ``Kᵀ``).
    """
    z = check_embeddings(as_float(z), "z", min_batch=1)
    return sample_norms4(z) - dimension_norms4(z)


def double_normalize(z, iterations=200, epsilon=1e-12):
    """Alternately normalise the rows (samples) to norm 1 and the columns (dims) to norm ``√(N/M)``.

    Unit embeddings together with unit dimensions are only possible when ``N = M`` (both fix ``‖z‖_F²``), so
    kspectral uses the consistent scaling of Garrido et al.'s Eq. 14: dimensions of norm ``√(N/M)``. The iteration is
    Sinkhorn scaling of the squared entries (row sums 1, column sums ``N/M``); it converges when the matrix has
    no zero pattern blocking it (e.g. a random dense matrix). The last step normalises the rows, so the
    embeddings are exactly unit-norm and the dimensions approximately ``√(N/M)``. Under it,
    ``L_nc − L_c = N − N²/M``.

    Args:
        z: ``(samples, dims)`` matrix.
        iterations: row/column sweeps.
        epsilon: floor on the squared norms (guards zero rows/columns).

    Returns:
        The normalised matrix, same shape and float dtype.
    """
    z = check_embeddings(as_float(z), "z", min_batch=1)
    iterations = check_positive_int(iterations, "iterations", minimum=0)
    n = ops.cast(ops.shape(z)[0], z.dtype)
    m = ops.cast(ops.shape(z)[1], z.dtype)
    target = ops.sqrt(n / m)
    for _ in range(iterations):
        z = z / ops.sqrt(ops.maximum(ops.sum(ops.square(z), axis=1, keepdims=True), epsilon))
        z = target * z / ops.sqrt(ops.maximum(ops.sum(ops.square(z), axis=0, keepdims=True), epsilon))
    return z / ops.sqrt(ops.maximum(ops.sum(ops.square(z), axis=1, keepdims=True), epsilon))
