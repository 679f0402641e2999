"""Closed-form optimal representations ``Z*`` of SSL losses, nonparametric (``theory.md`` §3).

"Nonparametric" means the representation of every node of ``G`` is a free variable: these are the optima the
losses would reach with an infinitely flexible encoder, and they depend on ``G`` alone. Convention: ``N`` rows,
``Cov(Z) = ZᵀHZ/N`` (the ``1/N`` of ``theory.md``, not the official code's ``1/(N−1)``); one covariance over
all ``N`` rows (the G-form of §3.2), not one per view.
"""

from __future__ import annotations

import numpy as np

from kspectral._validation import check_positive_int
from kspectral.spectral.eigen import laplacian_eigenvectors
from kspectral.spectral.graphs import validate_graph


def laplacian_eigenmaps(G, dim, *, solver="auto", seed=0, return_eigenvalues=False):
    """Laplacian eigenmaps: the hard-constraint optimum of VICReg on ``G`` (``theory.md`` §3.2(a)).

    Solves ``min_Z tr(ZᵀLZ)`` subject to ``ZᵀHZ/N = I_K``: invariance (the Dirichlet energy of ``Z`` on the
    positive pairs) under a whitening constraint that stands in for VICReg's variance and covariance terms
    with large weights. The optimum is ``Z* = √N · U_{2:K+1} · R`` (any rotation ``R``) with value
    ``N Σ_{k=2}^{K+1} λ_k``. The constant eigenvector ``u_1`` is excluded because ``Hu_1 = 0``. On a graph with
    ``c`` components, the first ``c − 1`` columns are centred component indicators with zero invariance cost.

    Differs from Belkin & Niyogi (2003), who constrain ``ZᵀDZ = I``; VICReg's covariance constraint gives the
    plain eigenproblem on the centred subspace. [derived (checked numerically)]

    Args:
        G: positive-pair graph, shape ``(N, N)``.
        dim: K, the embedding dimension, ``1 ≤ K ≤ N − 1``.
        solver: eigensolver, see :mod:`kspectral.spectral.eigen`.
        seed: start-vector seed of the iterative solvers.
        return_eigenvalues: also return ``λ_2..λ_{K+1}``.

    Returns:
        ``Z*`` of shape ``(N, K)`` (centred, ``Z*ᵀZ*/N = I_K``), and the eigenvalues if asked.

    Example:
        >>> from kspectral.spectral import label_graph
        >>> Z = laplacian_eigenmaps(label_graph([0, 0, 1, 1, 2, 2]), dim=2)
        >>> Z.shape
        (6, 2)
    """
    G = validate_graph(G)
    dim = check_positive_int(dim, "dim")
    N = G.shape[0]
    vals, U = laplacian_eigenvectors(G, dim, solver=solver, seed=seed)
    Z = np.sqrt(N) * U
    return (Z, vals) if return_eigenvalues else Z


def laplacian_eigenmaps_value(eigenvalues, n):
    """Optimal value ``tr(Z*ᵀLZ*) = N Σ_k λ_{k+1}`` of :func:`laplacian_eigenmaps`."""
    return float(n * np.sum(eigenvalues))
