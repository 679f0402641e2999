"""Graph Laplacians and related operators (``theory.md`` §1).

Isolated nodes (degree 0) get all-zero rows and columns in every Laplacian, as in ``scipy.sparse.csgraph``, so
that the multiplicity of eigenvalue 0 is the number of connected components for every kind.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from kspectral.spectral.graphs import validate_graph
from kspectral.errors import InputError

LAPLACIAN_KINDS = ("unnormalized", "symmetric", "random_walk")


def degree(G):
    """Degrees ``d_i = Σ_j G_ij``, shape ``(N,)``."""
    G = validate_graph(G, allow_empty=True)
    return np.asarray(G.sum(axis=1)).ravel()


def _inv_sqrt_degree(d):
    out = np.zeros_like(d)
    nz = d > 0
    out[nz] = 1.0 / np.sqrt(d[nz])
    return out


def normalized_adjacency(G):
    """``Ā = D^{-1/2} G D^{-1/2}`` (isolated nodes: zero rows), sparse ``(N, N)``."""
    G = validate_graph(G, allow_empty=True)
    s = sp.diags(_inv_sqrt_degree(degree(G)))
    return sp.csr_matrix(s @ G @ s)


def laplacian(G, kind="unnormalized"):
    """Graph Laplacian of ``G``.

    - ``"unnormalized"``: ``L = D − G``; PSD, ``L1 = 0``; the Laplacian of every closed form in
      ``theory.md`` §3-4 (``Σ_ij G_ij‖z_i − z_j‖² = 2 tr(ZᵀLZ)``).
    - ``"symmetric"``: ``L_sym = I − D^{-1/2} G D^{-1/2}``; eigenvalues in ``[0, 2]``.
    - ``"random_walk"``: ``L_rw = I − D^{-1} G`` (not symmetric; same spectrum as ``L_sym``).

    Args:
        G: positive-pair graph, shape ``(N, N)``.
        kind: one of ``"unnormalized"``, ``"symmetric"``, ``"random_walk"``.

    Returns:
        ``scipy.sparse.csr_matrix`` of shape ``(N, N)``.

    Example:
        >>> from kspectral.spectral import pair_graph
        >>> laplacian(pair_graph(1)).toarray()
        array([[ 1., -1.],
               [-1.,  1.]])
    """
    if kind not in LAPLACIAN_KINDS:
        raise InputError(f"unknown Laplacian kind {kind!r}; choose one of {', '.join(LAPLACIAN_KINDS)}")
    G = validate_graph(G, allow_empty=True)
    d = np.asarray(G.sum(axis=1)).ravel()
    if kind == "unnormalized":
        return sp.csr_matrix(sp.diags(d) - G)
    connected = (d > 0).astype(np.float64)
    if kind == "symmetric":
        s = sp.diags(_inv_sqrt_degree(d))
        return sp.csr_matrix(sp.diags(connected) - s @ G @ s)
    inv = np.zeros_like(d)
    inv[d > 0] = 1.0 / d[d > 0]
    return sp.csr_matrix(sp.diags(connected) - sp.diags(inv) @ G)


def centering_matrix(n):
    """``H = I_n − 11ᵀ/n`` (dense; for small ``n``; use ``X − X.mean(0)`` on data)."""
    return np.eye(n) - np.full((n, n), 1.0 / n)


def dirichlet_energy(Z, G):
    """``tr(ZᵀLZ) = ½ Σ_ij G_ij ‖z_i − z_j‖²``: how much ``Z`` varies across positive pairs.

    Args:
        Z: embedding, shape ``(N, K)`` (or ``(N,)``).
        G: positive-pair graph, shape ``(N, N)``.
    """
    Z = np.asarray(Z, dtype=np.float64)
    Z = Z[:, None] if Z.ndim == 1 else Z
    L = laplacian(validate_graph(G, n=Z.shape[0], allow_empty=True))
    return float(np.sum(Z * (L @ Z)))
