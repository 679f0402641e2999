"""Sample- and dimension-contrastive criteria L_c and L_nc (Garrido et al., ICLR 2023, Def. 3.2, Thm. 3.3).

Spec: ``objectives.md`` A1 and part C properties 1-11. The paper writes the embedding matrix as ``K ∈ R^{M×N}``
(columns are samples). kspectral is batch-first: these functions take ``z = Kᵀ`` of shape ``(N, M)``
(rows are samples), so ``sample_contrastive(z)`` is the paper's ``L_c(K)``.
"""

from __future__ import annotations

from keras import ops

from kspectral.objectives._common import as_float, check_embeddings, off_diagonal_square_sum


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
    """``Σ_i ‖z_i‖⁴``: the fourth powers of the embedding (row) norms, summed."""
    z = as_float(z)
    return ops.sum(ops.square(ops.sum(ops.square(z), axis=1)))


def dimension_norms4(z):
    """``Σ_j ‖z^j‖⁴``: the fourth powers of the dimension (column) norms, summed."""
    z = as_float(z)
    return ops.sum(ops.square(ops.sum(ops.square(z), axis=0)))


def duality_gap(z):
    """Theorem 3.3 residual ``L_nc + Σ_j‖z^j‖⁴ − L_c − Σ_i‖z_i‖⁴``; zero for every ``z`` (up to rounding).

    The identity holds because ``‖KᵀK‖_F² = ‖KKᵀ‖_F² = tr((KᵀK)²)``: the two criteria differ only by the
    norms of the rows and columns, so with both normalised they are equivalent objectives.
    """
    return dimension_contrastive(z) + dimension_norms4(z) - sample_contrastive(z) - sample_norms4(z)
