"""Closed-form optimal representations ``Z*`` of SSL losses, nonparametric.

Balestriero & LeCun (2022, "Contrastive and Non-Contrastive Self-Supervised Learning Recover Global and Local
Spectral Embedding Methods", arXiv:2205.11508) write each loss with the positive-pair graph ``G`` and obtain
its optimal representation in closed form; the formulas, conventions and checks used here are in
``docs/spec/theory.md`` §3.

"Nonparametric" means the representation of every node of ``G`` is a free variable: these are the optima the
losses would reach with an infinitely flexible encoder, and they depend on ``G`` alone. Convention: ``N`` rows,
``Cov(Z) = ZᵀHZ/N`` (the ``1/N`` of ``theory.md``, not the official code's ``1/(N−1)``); one covariance over
all ``N`` rows (the G-form of §3.2), not one per view.

Return convention: every closed form returns a :class:`SpectralSolution` (``embedding``, ``eigenvalues``,
``value``, ``rank``, ``scales``, ``objective``), except :func:`laplacian_eigenmaps`, which returns the bare
array (:func:`hard_vicreg` is the same optimum as a :class:`SpectralSolution`).

- local (VICReg family, §3.2): :func:`hard_vicreg` / :func:`laplacian_eigenmaps`, :func:`hinge_vicreg`,
  :func:`quadratic_vicreg`;
- spectral contrastive (§3.4): :func:`spectral_contrastive_embedding`;
- SimCLR on clique graphs (§3.3): :func:`simclr_simplex`; Barlow Twins (§3.5): :func:`barlow_twins_invariant`;
- global reference recipes (§3.3): :func:`classical_mds`, :func:`isomap`, :func:`kernel_pca` (these use the
  unnormalised doubly-centred Gram matrix, as scikit-learn).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from kspectral._validation import check_matrix, check_nonnegative, check_positive, check_positive_int
from kspectral.spectral.eigen import check_solver, laplacian_eigenvectors
from kspectral.spectral.graphs import (
    clique_structure,
    connected_components,
    shortest_path_distances,
    validate_graph,
)
from kspectral.errors import InputError


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


# ---------------------------------------------------------------------------------------------------------------
# Result type and shared helpers
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class SpectralSolution:
    """A nonparametric closed form: the optimal embedding of the ``N`` nodes and what goes with it.

    Every closed form of this module returns this, except :func:`laplacian_eigenmaps`, which returns the bare
    array. ``value`` is the optimal value of the objective named in ``objective`` (each function's
    docstring gives the formula).

    Attributes:
        embedding: ``Z*``, shape ``(N, K)``; columns past ``rank`` are zero.
        eigenvalues: the eigenvalues that define ``Z*``, shape ``(K,)`` (which operator, and their order, is in
            each function's docstring).
        value: optimal objective value (``nan`` where none is known, see the function).
        rank: number of non-zero columns of ``embedding`` (for :func:`simclr_simplex`, whose rows are unit
            vectors, the rank of the centred embedding, ``C − 1``).
        scales: per-column scale applied to the orthonormal eigenvectors (``s_k``), shape ``(K,)``.
        objective: one-line statement of the objective whose optimal value is ``value``.
    """

    embedding: np.ndarray
    eigenvalues: np.ndarray
    value: float
    rank: int
    scales: np.ndarray
    objective: str = ""


def _check_dim(dim, n_max, what):
    dim = check_positive_int(dim, "dim")
    if dim > n_max:
        raise InputError(f"dim={dim} is too large: {what}")
    return dim


def _sign_flip(V):
    """Deterministic signs: the largest-magnitude entry of each column is made positive (as scikit-learn)."""
    if V.size == 0:
        return V
    idx = np.argmax(np.abs(V), axis=0)
    signs = np.sign(V[idx, np.arange(V.shape[1])])
    signs[signs == 0] = 1.0
    return V * signs


TOP_SOLVERS = ("auto", "dense", "arpack")
DENSE_TOP_MAX_NODES = 2000


def _top_eigenpairs(A, k, *, solver="auto", seed=0, tol=1e-10):
    """The ``k`` largest eigenpairs of a symmetric (dense or sparse) matrix, descending.

    ``"dense"``: ``scipy.linalg.eigh`` on the top index range; ``"arpack"``: ``scipy.sparse.linalg.eigsh`` with
    ``which="LA"``; ``"auto"``: dense up to :data:`DENSE_TOP_MAX_NODES` rows (or ``k ≥ N/3``), else ARPACK.
    """
    check_solver(solver, TOP_SOLVERS)
    n = A.shape[0]
    if solver == "auto":
        solver = "dense" if n <= DENSE_TOP_MAX_NODES or k >= n // 3 else "arpack"
    if solver == "arpack" and k >= n - 1:
        solver = "dense"  # ARPACK needs k < N − 1 (and is pointless there)
    if solver == "dense":
        M = A.toarray() if sp.issparse(A) else np.asarray(A, dtype=np.float64)
        M = (M + M.T) / 2
        vals, vecs = sla.eigh(M, subset_by_index=[n - k, n - 1])
    else:
        v0 = np.random.default_rng(seed).standard_normal(n)
        ncv = min(n, max(2 * k + 1, k + 32))
        vals, vecs = spla.eigsh(A, k=k, which="LA", v0=v0, tol=tol, ncv=ncv)
    order = np.argsort(vals)[::-1]
    return vals[order], _sign_flip(vecs[:, order])


def _scaled_solution(vals, vecs, objective, value_fn):
    """``Z = V diag(√(μ)_+)`` from top eigenpairs (MDS, kernel PCA, low-rank fits)."""
    pos = np.clip(vals, 0.0, None)
    scales = np.sqrt(pos)
    Z = vecs * scales
    return SpectralSolution(
        embedding=Z, eigenvalues=vals, value=float(value_fn(pos)), rank=int(np.count_nonzero(scales > 0)),
        scales=scales, objective=objective,
    )


# ---------------------------------------------------------------------------------------------------------------
# VICReg (theory.md §3.2)
# ---------------------------------------------------------------------------------------------------------------


def hard_vicreg(G, dim, *, solver="auto", seed=0):
    """Hard-constraint VICReg = Laplacian eigenmaps (``theory.md`` §3.2(a)), as a :class:`SpectralSolution`.

    ``min_Z tr(ZᵀLZ)`` s.t. ``Cov(Z) = ZᵀHZ/N = I_K``: ``Z* = √N U_{2:K+1} R``, value ``N Σ_{k=2}^{K+1} λ_k``.
    The same optimum as :func:`laplacian_eigenmaps` (which returns the bare array); see there for details.
    [derived (checked numerically)]

    Convention: ``Cov`` divides by ``N`` and is one covariance over all ``N`` rows (not per view).

    Args:
        G: positive-pair graph, shape ``(N, N)``.
        dim: K, ``1 ≤ K ≤ N − 1``.
        solver, seed: eigensolver options, see :func:`kspectral.spectral.eigen.laplacian_eigenvectors`.

    Returns:
        :class:`SpectralSolution` with ``eigenvalues`` ``λ_2..λ_{K+1}`` (ascending), ``scales`` all one,
        ``rank`` K.
    """
    Z, vals = laplacian_eigenmaps(G, dim, solver=solver, seed=seed, return_eigenvalues=True)
    return SpectralSolution(
        embedding=Z, eigenvalues=vals, value=laplacian_eigenmaps_value(vals, Z.shape[0]), rank=Z.shape[1],
        scales=np.ones(Z.shape[1]), objective="tr(ZᵀLZ) s.t. ZᵀHZ/N = I_K",
    )


def hinge_vicreg(G, dim, *, variance_weight=1.0, invariance_weight=1.0, solver="auto", seed=0):
    """Hinge-variance VICReg with hard decorrelation (``theory.md`` §3.2(b)).

    Objective (the G-form of §3.2 with ``β → ∞``, i.e. ``Cov(Z)`` constrained to be diagonal)::

        α Σ_k relu(1 − √Cov(Z)_kk) + (γ/N) Σ_ij G_ij ‖z_i − z_j‖²
          = α Σ_k relu(1 − √Cov(Z)_kk) + (2γ/N) tr(ZᵀLZ),      Cov(Z) = ZᵀHZ/N diagonal.

    Optimum: ``Z* = √N · U_{2:K+1} · diag(s)`` with ``s_k = min(1, α / (4γ λ_{k+1}))`` (``s_k = 1`` where
    ``λ_{k+1} = 0``), value ``Σ_k [α(1 − s_k) + 2γ λ_{k+1} s_k²]``. ``R`` is restricted to signed permutations
    (any rotation inside blocks of equal ``s``). Every ``s_k > 0``: the hinge never drops a dimension (rank
    ``K``); a high invariance weight shrinks the high-``λ`` directions (``s_k ∝ 1/λ``).
    [derived (checked numerically)]

    With a finite covariance weight β the diagonal constraint is a penalty and the optimum can move slightly
    off it (where several ``s_k = 1`` with different ``λ``, by ``O(γ²/β)``); this function solves the limit.

    Convention: ``Cov`` divides by ``N`` (the official code uses ``N − 1``) and is one covariance over all
    ``N`` rows (the official loss has one per view). See :func:`kspectral.spectral.linear.vicreg_weights_to_gform`
    for the official ``(λ, μ, ν)`` ↔ ``(γ, α, β)`` map.

    Args:
        G: positive-pair graph, shape ``(N, N)``.
        dim: K, ``1 ≤ K ≤ N − 1``.
        variance_weight: α > 0.
        invariance_weight: γ ≥ 0 (0 gives ``s = 1``: any whitened ``Z`` is optimal).
        solver, seed: eigensolver options, see :func:`kspectral.spectral.eigen.laplacian_eigenvectors`.

    Returns:
        :class:`SpectralSolution`: ``eigenvalues`` ``λ_2..λ_{K+1}`` ascending, ``scales`` ``s``, rank K.
    """
    alpha = check_positive(variance_weight, "variance_weight")
    gamma = check_nonnegative(invariance_weight, "invariance_weight")
    Z, vals = laplacian_eigenmaps(G, dim, solver=solver, seed=seed, return_eigenvalues=True)
    denom = 4.0 * gamma * vals
    with np.errstate(divide="ignore"):
        s = np.where(denom > 0, np.minimum(1.0, alpha / np.where(denom > 0, denom, 1.0)), 1.0)
    value = float(np.sum(alpha * (1.0 - s) + 2.0 * gamma * vals * s**2))
    return SpectralSolution(
        embedding=Z * s, eigenvalues=vals, value=value, rank=int(np.count_nonzero(s > 0)), scales=s,
        objective="α Σ_k relu(1 − √Cov_kk) + (2γ/N) tr(ZᵀLZ), Cov(Z) = ZᵀHZ/N diagonal",
    )


def quadratic_vicreg(G, dim, *, invariance_weight=1.0, solver="auto", seed=0):
    """Quadratic VICReg surrogate (the form of Cabannes et al. 2023, "The SSL Interplay", ICML; ``theory.md`` §3.2(c)).

    Objective::

        ‖Cov(Z) − I_K‖_F² + (γ'/N) tr(ZᵀLZ),      Cov(Z) = ZᵀHZ/N.

    Optimum: ``Z* = √N · U_{2:K+1} · diag(√((1 − γ'λ_{k+1}/2)_+)) · R`` (any ``R ∈ O(K)``), value
    ``K − Σ_k (1 − γ'λ_{k+1}/2)_+²``, rank ``#{k ≤ K : λ_{k+1} < 2/γ'}`` (non-increasing in γ'). Proof: with
    ``M = HZZᵀH/N`` the loss is ``‖M − (H − γ'L/2)‖_F² + const``, and Eckart–Young applies.
    [derived (checked numerically)]

    **The invariance weight sets the rank**: ``γ' → ∞`` keeps only the ``c − 1`` zero-cost component
    indicators of a graph with ``c`` components; a small γ' keeps all K directions.

    Convention: ``Cov`` divides by ``N`` and is one covariance over all ``N`` rows. Note the invariance term is
    ``(γ'/N) tr(ZᵀLZ)`` here, ``(2γ/N) tr(ZᵀLZ)`` in :func:`hinge_vicreg` (both as in ``theory.md``).

    Args:
        G: positive-pair graph, shape ``(N, N)``.
        dim: K, ``1 ≤ K ≤ N − 1``.
        invariance_weight: γ' > 0.
        solver, seed: eigensolver options, see :func:`kspectral.spectral.eigen.laplacian_eigenvectors`.

    Returns:
        :class:`SpectralSolution`: ``eigenvalues`` ``λ_2..λ_{K+1}`` ascending, ``scales``
        ``√((1 − γ'λ/2)_+)``; zero-scale columns are zero.
    """
    gamma = check_positive(invariance_weight, "invariance_weight")
    Z, vals = laplacian_eigenmaps(G, dim, solver=solver, seed=seed, return_eigenvalues=True)
    t = np.clip(1.0 - gamma * vals / 2.0, 0.0, None)
    s = np.sqrt(t)
    return SpectralSolution(
        embedding=Z * s, eigenvalues=vals, value=float(dim - np.sum(t**2)), rank=int(np.count_nonzero(t > 0)),
        scales=s, objective="‖ZᵀHZ/N − I_K‖_F² + (γ'/N) tr(ZᵀLZ)",
    )


# ---------------------------------------------------------------------------------------------------------------
# Spectral contrastive loss (theory.md §3.4)
# ---------------------------------------------------------------------------------------------------------------


def spectral_contrastive_embedding(G, dim, *, weighted=True, solver="auto", seed=0):
    """Optimum of the spectral contrastive loss (HaoChen et al. 2021) on ``G`` (``theory.md`` §3.4).

    ``weighted=True`` (HaoChen's loss), with ``w_ij = G_ij / Σ G`` and ``w_i = Σ_j w_ij``::

        L(F) = −2 Σ_ij w_ij f_iᵀf_j + Σ_ij w_i w_j (f_iᵀf_j)² = ‖D_w^{1/2} F Fᵀ D_w^{1/2} − Ā‖_F² − ‖Ā‖_F²,

    minimised by ``F* = D_w^{-1/2} V_K diag(√(μ_k)_+) R`` with ``(μ_k, V_K)`` the top-K eigenpairs of
    ``Ā = D^{-1/2} G D^{-1/2}``; value ``−Σ_{k≤K} (μ_k)_+²``: HaoChen, Wei, Gaidon & Ma (2021,
    arXiv:2106.04156) write the loss as this matrix factorisation of ``Ā``, and Eckart–Young gives the optimum.

    ``weighted=False``: ``min_Z ‖ZZᵀ − G‖_F²``, the top-K PSD part of ``G``: ``Z* = V_K diag(√(μ_k)_+)`` with
    ``(μ_k, V_K)`` the top-K eigenpairs of ``G``. ``value`` is reported in the same convention,
    ``‖Z*Z*ᵀ − G‖_F² − ‖G‖_F² = −Σ_{k≤K}(μ_k)_+²`` (add ``‖G‖_F²`` for the reconstruction error).
    [derived (checked numerically)]

    Unlike VICReg, nothing is centred: the trivial top eigenvector ``D^{1/2}1`` of ``Ā`` (eigenvalue 1, once
    per connected component) is kept. No normalisation convention (``N`` vs ``N − 1``) enters. Isolated nodes
    (degree 0) do not appear in the weighted loss; their rows of ``F*`` are set to zero.

    Args:
        G: positive-pair graph, shape ``(N, N)``.
        dim: K, ``1 ≤ K ≤ N``.
        weighted: HaoChen's degree-weighted loss (default) or the unweighted low-rank fit of ``G``.
        solver: ``"auto"`` (dense ``eigh`` up to 2000 nodes, else ``scipy.sparse.linalg.eigsh(which="LA")``),
            ``"dense"`` or ``"arpack"``.
        seed: seed of ARPACK's start vector.

    Returns:
        :class:`SpectralSolution`: ``eigenvalues`` ``μ_1 ≥ … ≥ μ_K`` (descending), ``scales`` ``√(μ_k)_+``,
        ``rank`` the number of positive ``μ_k``.
    """
    G = validate_graph(G)
    N = G.shape[0]
    dim = _check_dim(dim, N, f"the graph has N={N} nodes, so at most N eigenpairs; use dim ≤ {N}")
    if weighted:
        d = np.asarray(G.sum(axis=1)).ravel()
        inv_sqrt_d = np.zeros(N)
        inv_sqrt_d[d > 0] = 1.0 / np.sqrt(d[d > 0])
        A = sp.csr_matrix(sp.diags(inv_sqrt_d) @ G @ sp.diags(inv_sqrt_d))
    else:
        A = G
    vals, vecs = _top_eigenpairs(A, dim, solver=solver, seed=seed)
    sol = _scaled_solution(vals, vecs, "", lambda pos: -np.sum(pos**2))
    if weighted:
        w_inv_sqrt = inv_sqrt_d * np.sqrt(d.sum())  # D_w^{-1/2} with w_i = d_i / ΣG
        sol.embedding = w_inv_sqrt[:, None] * sol.embedding
        sol.objective = "−2 Σ w_ij f_iᵀf_j + Σ w_i w_j (f_iᵀf_j)², w = G/ΣG"
    else:
        sol.objective = "‖ZZᵀ − G‖_F² − ‖G‖_F²"
    return sol


# ---------------------------------------------------------------------------------------------------------------
# SimCLR on clique graphs (theory.md §3.3) and Barlow Twins (theory.md §3.5)
# ---------------------------------------------------------------------------------------------------------------


def regular_simplex(n_vertices, dim):
    """``n_vertices`` unit vectors in ``R^dim`` with pairwise inner products ``−1/(n_vertices − 1)``.

    Needs ``n_vertices ≤ dim + 1``. Returns shape ``(n_vertices, dim)``; centred (the rows sum to zero) and
    spanning ``n_vertices − 1`` dimensions (the first ones). One vertex gives ``e_1``.
    """
    C = check_positive_int(n_vertices, "n_vertices")
    dim = check_positive_int(dim, "dim")
    if C > dim + 1:
        raise InputError(f"a regular simplex of {C} vertices needs dim ≥ {C - 1}, got dim={dim}")
    out = np.zeros((C, dim))
    if C == 1:
        out[0, 0] = 1.0
        return out
    E = np.eye(C) - 1.0 / C  # centred vertices in R^C, spanning 1^⊥ (dimension C − 1)
    U, _, _ = np.linalg.svd(E)
    V = E @ U[:, : C - 1]  # coordinates in an orthonormal basis of 1^⊥
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    out[:, : C - 1] = V
    return out


def simclr_clique_loss_value(sizes, temperature):
    """SimCLR G-form loss at the clique-collapse simplex (see :func:`simclr_simplex`)."""
    sizes = np.asarray(sizes, dtype=np.float64)
    C, N, t = sizes.size, sizes.sum(), float(temperature)
    if C == 1:
        return float(np.log(N - 1.0))
    neg = -1.0 / (C - 1)
    # log((n_c − 1) e^{1/τ} + (N − n_c) e^{neg/τ}) − 1/τ, computed stably
    per_class = np.logaddexp(np.log(sizes - 1.0) + 1.0 / t, np.log(np.maximum(N - sizes, 1e-300)) + neg / t) - 1.0 / t
    per_class = np.where(N - sizes > 0, per_class, np.log(sizes - 1.0))
    return float(np.sum(sizes * per_class) / N)


def simclr_simplex(G, dim, *, temperature=0.5):
    """SimCLR's optimum on a union of ``C ≤ K + 1`` disjoint cliques: class collapse onto a regular simplex.

    SimCLR (Chen et al. 2020, arXiv:2002.05709) written with ``G`` (``docs/spec/theory.md`` §3.3; on the pair
    graph it is NT-Xent, on a label graph SupCon), with ``P = D^{-1}G`` and ``S = Z̃Z̃ᵀ`` the cosine kernel of
    the row-normalised ``Z̃``::

        L(Z) = −(1/N) Σ_i Σ_j P_ij log( exp(S_ij/τ) / Σ_{k≠i} exp(S_ik/τ) ).

    If ``G`` is a union of ``C`` disjoint cliques of **equal size** with uniform weights (the label graph of a
    balanced labelling, or the V-view augmentation graph) and ``C ≤ K + 1``, the optimum is
    ``z̃_i = m_{c(i)}`` with ``m_cᵀm_{c'} = −1/(C − 1)`` (a regular simplex), any rotation ``R``; value
    ``log((n_c − 1)e^{1/τ} + (N − n_c)e^{−1/((C−1)τ)}) − 1/τ``, with rank ``rank(HZ̃*) = C − 1`` whatever K
    is: the rank follows G ("dimensional collapse"). Known for balanced classes (Graf, Hofer, Niethammer &
    Kwitt 2021, "Dissecting Supervised Contrastive Learning", ICML); derived for this G-form and
    checked numerically at τ = 0.5 (``docs/spec/theory.md`` §3.3).

    Unequal clique sizes raise: the regular simplex is established for balanced cliques only, and with unequal
    sizes it is not optimal (sizes (3, 5, 9, 7), K = 6, τ = 0.5: L-BFGS reaches 1.90038 < 1.90409 at the
    simplex). :func:`simplex_obstacle` tells whether ``G`` qualifies without raising.

    No normalisation convention enters (cosine similarities; the loss averages over all ``N`` rows).

    Args:
        G: positive-pair graph, shape ``(N, N)``: a union of equal-size cliques, each of at least 2 nodes.
        dim: K ≥ C − 1.
        temperature: τ > 0, only used for ``value``.

    Returns:
        :class:`SpectralSolution`: unit-norm rows ``embedding`` (the first ``C − 1`` columns are used),
        ``eigenvalues`` those of the centred Gram ``Z̃ᵀHZ̃`` (``N/(C − 1)`` repeated ``C − 1`` times, then zeros),
        ``scales`` one on the used columns, ``rank`` ``C − 1``.

    Raises:
        ValueError: ``G`` is not a union of equal-size uniform-weight cliques, has isolated nodes, or
            ``C > K + 1``.
    """
    G = validate_graph(G)
    dim = check_positive_int(dim, "dim")
    tau = check_positive(temperature, "temperature")
    structure = clique_structure(G)
    reason = _simplex_obstacle(structure, dim)
    if reason is not None:
        raise InputError(reason)
    C, sizes = structure.n_components, structure.sizes
    N = G.shape[0]
    Z = regular_simplex(C, dim)[structure.labels]
    rank = C - 1
    eig = np.zeros(dim)
    eig[:rank] = N / (C - 1) if C > 1 else 0.0
    scales = np.zeros(dim)
    scales[: max(rank, 1)] = 1.0
    return SpectralSolution(
        embedding=Z, eigenvalues=eig, value=simclr_clique_loss_value(sizes, tau), rank=rank, scales=scales,
        objective=f"SimCLR G-form, −(1/N) Σ P_ij log softmax_{{k≠i}}(S_ik/τ)_j at τ={tau:g}",
    )


def simplex_obstacle(G, dim):
    """Why :func:`simclr_simplex` does not apply to ``(G, dim)``, or ``None`` when it does.

    The simplex closed form needs ``G`` to be a union of ``C ≤ dim + 1`` disjoint cliques of equal size
    (each of at least 2 nodes) with uniform edge weights.

    Args:
        G: positive-pair graph, shape ``(N, N)``.
        dim: K, the embedding dimension.

    Returns:
        ``None``, or a sentence naming the failed condition (the message :func:`simclr_simplex` raises).

    Example:
        >>> from kspectral.spectral import label_graph
        >>> simplex_obstacle(label_graph([0, 0, 1, 1]), 1) is None
        True
    """
    return _simplex_obstacle(clique_structure(G), check_positive_int(dim, "dim"))


def _simplex_obstacle(structure, dim):
    sizes, C = structure.sizes, structure.n_components
    if np.any(sizes < 2):
        return (
            f"G has {int(np.sum(sizes < 2))} isolated nodes; the SimCLR clique optimum needs every node in a "
            "clique of at least 2 (each sample needs a positive)"
        )
    if not structure.complete:
        return (
            "G is not a union of disjoint cliques (some connected component is not complete); the SimCLR "
            "closed form exists only for clique graphs such as label_graph(y) or pair_graph(n, views)"
        )
    if not structure.uniform_weights:
        return "the edge weights vary inside a clique; the SimCLR clique optimum needs uniform weights"
    if C > dim + 1:
        return (
            f"G has C={C} cliques but dim={dim}: the simplex optimum needs C ≤ dim + 1 (use dim ≥ {C - 1}); "
            "for C > K + 1 no closed form is known"
        )
    if not structure.equal_sizes:
        return (
            f"the cliques have unequal sizes ({', '.join(map(str, np.unique(sizes)))}); the regular-simplex "
            "optimum is established for equal sizes only (Graf et al. 2021)"
        )
    return None


def barlow_twins_invariant(G, dim):
    """Nonparametric Barlow Twins optimum: an orthonormal centred basis of the invariant functions of ``G``.

    ``L_BT = Σ_k (1 − C_kk)² + λ_BT Σ_{k≠l} C_kl²`` (``theory.md`` §3.5) is exactly 0 for any standardised,
    decorrelated, view-invariant ``Z``. On a general ``G`` the invariant functions (``tr(ZᵀLZ) = 0``) are the
    functions constant on each connected component: the ``L``-nullspace. The optimal set is
    ``√N · U_inv · R`` with ``U_inv`` K orthonormal centred vectors of that nullspace, so
    ``rank ≤ min(K, c − 1)`` with ``c`` components: **the rank follows G**. [derived (checked numerically)]

    Returned: ``Z = √N · U_inv`` with the ``r = min(K, c − 1)`` centred, orthonormalised component indicators
    (largest components first), ``ZᵀHZ/N = I_r`` on those columns and zero columns past ``r``;
    ``value = 0.0`` when ``K ≤ c − 1``. When ``K > c − 1`` the extra dimensions cannot be invariant (they
    cannot reach ``C_kk = 1`` while decorrelated); the true optimum then trades ``C_kk`` against
    ``λ_BT`` and has no closed form here, so ``value`` is ``nan`` and those columns are zero.

    Convention: ``Cov`` divides by ``N``, one covariance over all ``N`` rows.

    Args:
        G: positive-pair graph, shape ``(N, N)`` (with the pair graph of ``n`` samples, ``c = n``).
        dim: K, ``1 ≤ K ≤ N − 1``.

    Returns:
        :class:`SpectralSolution` (``eigenvalues`` zeros: the Laplacian eigenvalue of each used column).
    """
    G = validate_graph(G)
    N = G.shape[0]
    dim = _check_dim(dim, N - 1, f"a graph of N={N} nodes has at most N − 1 centred directions")
    n_comp, _ = connected_components(G)
    r = min(dim, n_comp - 1)
    Z = np.zeros((N, dim))
    if r > 0:
        _, U = laplacian_eigenvectors(G, r)
        Z[:, :r] = np.sqrt(N) * U
    scales = np.zeros(dim)
    scales[:r] = 1.0
    return SpectralSolution(
        embedding=Z, eigenvalues=np.zeros(dim), value=0.0 if dim <= n_comp - 1 else float("nan"), rank=r,
        scales=scales, objective="Barlow Twins Σ(1 − C_kk)² + λ_BT Σ_{k≠l} C_kl² (0 iff invariant and whitened)",
    )


# ---------------------------------------------------------------------------------------------------------------
# Global methods: classical MDS, ISOMAP, kernel PCA (the global spectral embeddings of theory.md §3.3)
# ---------------------------------------------------------------------------------------------------------------


def _double_center(B):
    B = B - B.mean(axis=0, keepdims=True)
    return B - B.mean(axis=1, keepdims=True)


def _check_square(M, name):
    M = check_matrix(M, name, min_rows=2)
    if M.shape[0] != M.shape[1]:
        raise InputError(f"{name} must be square (N×N), got shape {M.shape}")
    asym = np.max(np.abs(M - M.T))
    if asym > 1e-8 * max(1.0, float(np.max(np.abs(M)))):
        raise InputError(f"{name} is not symmetric (max |M − Mᵀ| = {asym:.3g}); symmetrise it, e.g. (M + M.T)/2")
    return (M + M.T) / 2


MDS_INPUTS = (None, "distances", "squared_distances")


def classical_mds(data, dim, *, precomputed=None, solver="auto", seed=0):
    """Classical (Torgerson 1952) multidimensional scaling.

    ``B = −½ H Δ^{(2)} H`` (``Δ^{(2)}`` the squared distances), ``Z = U_K(B) Λ_K(B)^{1/2}`` with the top-K
    eigenpairs of ``B`` (negative eigenvalues of a non-Euclidean ``Δ`` are clipped to 0). ``Z`` minimises the
    strain ``‖B − ZZᵀ‖_F²``; ``value`` is that minimum, ``‖B‖_F² − Σ_{k≤K}(λ_k)_+²``. For Euclidean
    features, ``B = X_cX_cᵀ`` and ``Z`` equals the PCA scores (computed by a thin SVD, without the N×N
    matrix). Balestriero & LeCun (2022, arXiv:2205.11508) name MDS as a target of contrastive SSL; no distance
    is known that makes SimCLR's optimum equal it.

    Convention: ``B`` is the doubly centred Gram matrix (no ``1/N``): ``Z`` has ``ZᵀZ = Λ_K``.

    Args:
        data: features ``X`` of shape ``(N, D)`` (``precomputed=None``), or an ``(N, N)`` symmetric matrix of
            distances (``"distances"``) or squared distances (``"squared_distances"``).
        dim: K, ``1 ≤ K ≤ N − 1``.
        precomputed: ``None``, ``"distances"`` or ``"squared_distances"``.
        solver, seed: eigensolver for precomputed input (``"auto"``, ``"dense"``, ``"arpack"``).

    Returns:
        :class:`SpectralSolution`: ``eigenvalues`` of ``B`` (descending, unclipped), ``scales`` ``√(λ_k)_+``.
    """
    if precomputed not in MDS_INPUTS:
        raise InputError(f"unknown precomputed={precomputed!r}; choose None, 'distances' or 'squared_distances'")
    objective = "strain ‖B − ZZᵀ‖_F², B = −½HΔ²H"
    if precomputed is None:
        X = check_matrix(data, "X", min_rows=2)
        N = X.shape[0]
        dim = _check_dim(dim, N - 1, f"N={N} centred points span at most N − 1 = {N - 1} dimensions")
        Xc = X - X.mean(axis=0)
        U, S, _ = np.linalg.svd(Xc, full_matrices=False)
        vals = np.zeros(dim)
        vecs = np.zeros((N, dim))
        r = min(dim, S.size)
        vals[:r] = S[:r] ** 2
        vecs[:, :r] = _sign_flip(U[:, :r])
        total = float(np.sum(S**4))
        return _scaled_solution(vals, vecs, objective, lambda pos: total - np.sum(pos**2))
    Dm = _check_square(data, "D")
    if np.any(Dm < 0):
        raise InputError("distances must be non-negative")
    if np.any(np.abs(np.diag(Dm)) > 0):
        raise InputError("distance matrix must have a zero diagonal")
    N = Dm.shape[0]
    dim = _check_dim(dim, N - 1, f"N={N} points span at most N − 1 = {N - 1} dimensions")
    D2 = Dm**2 if precomputed == "distances" else Dm
    B = -0.5 * _double_center(D2)
    vals, vecs = _top_eigenpairs(B, dim, solver=solver, seed=seed)
    total = float(np.sum(B**2))
    return _scaled_solution(vals, vecs, objective, lambda pos: total - np.sum(pos**2))


def geodesic_distances(X, k=5, *, path_method="auto"):
    """Shortest-path distances on the symmetrised kNN graph of ``X`` (Euclidean edge lengths), ``(N, N)``.

    As ``sklearn.manifold.Isomap``: each point is linked to its ``k`` nearest neighbours (the union of both
    directions), edges weighted by the Euclidean distance, and ``scipy.sparse.csgraph.shortest_path`` on the
    undirected graph (:func:`~kspectral.spectral.graphs.shortest_path_distances`, which
    :func:`~kspectral.spectral.graph_geodesic_distances` shares). Raises if the kNN graph is disconnected
    (infinite geodesic distances). For the geodesics of a positive-pair graph ``G`` itself, use
    :func:`~kspectral.spectral.graph_geodesic_distances`.
    """
    from sklearn.neighbors import kneighbors_graph

    X = check_matrix(X, "X", min_rows=2)
    N = X.shape[0]
    k = check_positive_int(k, "k")
    if k >= N:
        raise InputError(f"k={k} must be smaller than the number of samples N={N}")
    nbg = kneighbors_graph(X, k, mode="distance", include_self=False)
    return shortest_path_distances(nbg, path_method=path_method, what=f"the {k}-nearest-neighbour graph of X",
                                   fix="increase k (or embed each component separately)")


def isomap(X, dim, k=5, *, path_method="auto", solver="auto", seed=0):
    """ISOMAP (Tenenbaum, de Silva & Langford 2000): classical MDS of the geodesic distances on a kNN graph.

    ``Δ_ij`` = shortest path between ``x_i`` and ``x_j`` on the symmetrised kNN graph with Euclidean edge
    lengths (:func:`geodesic_distances`); then :func:`classical_mds` of ``Δ``: ``B = −½HΔ^{(2)}H``,
    ``Z = U_K(B)Λ_K(B)^{1/2}``, ``value`` the strain ``‖B − ZZᵀ‖_F²``. Same embedding as
    ``sklearn.manifold.Isomap(n_neighbors=k)`` (up to column signs) on a connected kNN graph. Balestriero &
    LeCun (2022, arXiv:2205.11508) relate SimCLR to (kernel) ISOMAP; no kernel is known through which SimCLR's
    optimum equals it.

    Args:
        X: features, shape ``(N, D)``.
        dim: K, ``1 ≤ K ≤ N − 1``.
        k: neighbours per point; the kNN graph must be connected.
        path_method: ``scipy.sparse.csgraph.shortest_path`` method (``"auto"``, ``"D"``, ``"FW"``, ...).
        solver, seed: eigensolver of :func:`classical_mds`.

    Returns:
        :class:`SpectralSolution` as :func:`classical_mds`.
    """
    Dg = geodesic_distances(X, k, path_method=path_method)
    sol = classical_mds(Dg, dim, precomputed="distances", solver=solver, seed=seed)
    sol.objective = "strain ‖B − ZZᵀ‖_F², B = −½HΔ²H, Δ geodesic on the kNN graph"
    return sol


KERNELS = ("rbf", "linear", "poly", "sigmoid", "cosine", "laplacian", "precomputed")


def kernel_matrix(X, Y=None, *, kernel="rbf", gamma=None, degree=3, coef0=1.0):
    """Kernel matrix ``k(X, Y)`` with scikit-learn's definitions and defaults (``gamma=None`` → ``1/D``)."""
    from sklearn.metrics.pairwise import pairwise_kernels

    if kernel not in KERNELS or kernel == "precomputed":
        choices = ", ".join(k for k in KERNELS if k != "precomputed")
        raise InputError(f"unknown kernel {kernel!r}; choose one of {choices}")
    params = {"rbf": ("gamma",), "laplacian": ("gamma",), "poly": ("gamma", "degree", "coef0"),
              "sigmoid": ("gamma", "coef0"), "linear": (), "cosine": ()}[kernel]
    values = {"gamma": gamma, "degree": degree, "coef0": coef0}
    return pairwise_kernels(X, Y, metric=kernel, filter_params=False, **{p: values[p] for p in params})


def kernel_pca(data, dim, *, kernel="rbf", gamma=None, degree=3, coef0=1.0, solver="auto", seed=0):
    """Kernel PCA (Schölkopf, Smola & Müller 1998): ``B = H K H``, ``Z = U_K(B) Λ_K(B)^{1/2}``.

    The training-set embedding of ``sklearn.decomposition.KernelPCA(n_components=K, kernel=...)`` (same
    kernels and defaults, up to column signs); negative eigenvalues (an indefinite kernel) are clipped to 0.
    ``value`` is the strain ``‖HKH − ZZᵀ‖_F²``. Classical MDS is kernel PCA with ``K = −½Δ^{(2)}``; ISOMAP with
    the geodesic ``Δ``.

    Convention: eigenvalues of the centred kernel matrix itself (no ``1/N``), as scikit-learn.

    Args:
        data: features ``X`` of shape ``(N, D)``, or a symmetric ``(N, N)`` kernel matrix with
            ``kernel="precomputed"``.
        dim: K, ``1 ≤ K ≤ N − 1``.
        kernel: ``"rbf"`` (default), ``"linear"``, ``"poly"``, ``"sigmoid"``, ``"cosine"``, ``"laplacian"`` or
            ``"precomputed"``.
        gamma, degree, coef0: kernel parameters (scikit-learn's ``pairwise_kernels``; ``gamma=None`` → ``1/D``).
        solver, seed: eigensolver (``"auto"``, ``"dense"``, ``"arpack"``).

    Returns:
        :class:`SpectralSolution`: ``eigenvalues`` of ``HKH`` (descending, unclipped), ``scales`` ``√(λ_k)_+``.
    """
    if kernel not in KERNELS:
        raise InputError(f"unknown kernel {kernel!r}; choose one of {', '.join(KERNELS)}")
    if kernel == "precomputed":
        Km = _check_square(data, "K")
    else:
        X = check_matrix(data, "X", min_rows=2)
        Km = kernel_matrix(X, kernel=kernel, gamma=gamma, degree=degree, coef0=coef0)
    N = Km.shape[0]
    dim = _check_dim(dim, N - 1, f"N={N} centred points span at most N − 1 = {N - 1} dimensions")
    B = _double_center(Km)
    vals, vecs = _top_eigenpairs(B, dim, solver=solver, seed=seed)
    total = float(np.sum(B**2))
    return _scaled_solution(vals, vecs, "strain ‖HKH − ZZᵀ‖_F²", lambda pos: total - np.sum(pos**2))
