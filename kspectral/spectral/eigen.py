"""Bottom eigenpairs of graph Laplacians, connected components first.

:func:`laplacian_eigenvectors` returns the eigenpairs ``(λ_2..λ_{K+1}, U_{2:K+1})`` of ``L = D − G`` on the
subspace orthogonal to the constant vector, the basis of every local closed form (``theory.md`` §3.2).

A disconnected graph is split first: with ``c`` components, eigenvalue 0 has multiplicity ``c`` and its
eigenvectors are the component indicators, which ``eigsh`` can miss or mix. They are built exactly (centred,
orthonormal), and only each component's non-zero spectrum goes to an eigensolver:

- ``"dense"``: ``scipy.linalg.eigh`` (small components);
- ``"lanczos"``: ``eigsh`` on the complementary largest-eigenvalue problem ``σI − L`` with the constant
  deflated (fast when the bottom of the spectrum is well separated, e.g. kNN graphs of high-dimensional data);
- ``"shift_invert"``: ``eigsh`` in shift-invert mode around ``−δ`` (a sparse LU of ``L + δI``; fast on
  low-dimensional manifolds, whose bottom eigenvalues crowd together);
- ``"lobpcg"``: ``scipy.sparse.linalg.lobpcg`` with the constant as a constraint and a Jacobi preconditioner;
- ``"auto"``: dense up to :data:`DENSE_MAX_NODES` nodes, else Lanczos, falling back to shift-invert when
  Lanczos does not converge within its iteration budget.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from kspectral._validation import check_positive_int
from kspectral.spectral.graphs import connected_components, validate_graph
from kspectral.spectral.laplacian import laplacian

SOLVERS = ("auto", "dense", "lanczos", "shift_invert", "lobpcg")
DENSE_MAX_NODES = 2500


def _component_indicator_basis(labels, n_components, k, order):
    """``k`` orthonormal vectors spanning (part of) span{component indicators} ∩ 1^⊥.

    A Householder reflection maps ``e_1`` to ``q = (√n_j/√N)_j`` (the constant vector in the basis of normalised
    indicators); its other columns are orthonormal and orthogonal to ``q``, computed one at a time so that
    graphs with many components never build a ``c×c`` matrix.
    """
    N = labels.shape[0]
    sizes = np.bincount(labels, minlength=n_components).astype(np.float64)
    sizes = sizes[order]
    q = np.sqrt(sizes / N)
    v = q.copy()
    v[0] -= 1.0
    vnorm = np.linalg.norm(v)
    rank_of = np.empty(n_components, dtype=np.int64)
    rank_of[order] = np.arange(n_components)
    comp_rank = rank_of[labels]  # component of each node, in `order` positions
    scale = 1.0 / np.sqrt(sizes)  # normalised indicator values
    out = np.zeros((N, k))
    for col in range(k):
        j = col + 1
        coeff = np.zeros(n_components)
        coeff[j] = 1.0
        if vnorm > 1e-15:
            coeff -= 2.0 * v * v[j] / vnorm**2
        out[:, col] = coeff[comp_rank] * scale[comp_rank]
    return out


def _lanczos(Lc, m, seed, tol, maxiter):
    n = Lc.shape[0]
    deg = Lc.diagonal()
    sigma = 2.0 * float(deg.max()) * 1.0001 + 1e-12  # Gershgorin: λ_max(L) ≤ 2·max degree
    ones = np.full(n, 1.0 / np.sqrt(n))

    def matvec(x):
        x = np.asarray(x).reshape(n, -1)
        y = sigma * x - Lc @ x
        return y - sigma * np.outer(ones, ones @ x)  # deflate the constant (eigenvalue σ → 0)

    op = spla.LinearOperator((n, n), matvec=matvec, matmat=matvec, dtype=np.float64)
    v0 = np.random.default_rng(seed).standard_normal(n)
    ncv = min(n, max(2 * m + 1, m + 32))
    mu, vecs = spla.eigsh(op, k=m, which="LA", v0=v0, tol=tol, maxiter=maxiter, ncv=ncv)
    return sigma - mu, vecs


def _shift_invert(Lc, m, seed, tol):
    n = Lc.shape[0]
    delta = 1e-3 * max(float(Lc.diagonal().mean()), 1e-12)
    v0 = np.random.default_rng(seed).standard_normal(n)
    vals, vecs = spla.eigsh(sp.csc_matrix(Lc), k=m + 1, sigma=-delta, which="LM", v0=v0, tol=tol)
    order = np.argsort(vals)
    return vals[order][1:], vecs[:, order][:, 1:]  # drop the constant (eigenvalue 0)


def _lobpcg(Lc, m, seed, tol, maxiter):
    n = Lc.shape[0]
    rng = np.random.default_rng(seed)
    X0 = rng.standard_normal((n, m))
    Y = np.full((n, 1), 1.0 / np.sqrt(n))
    d = Lc.diagonal()
    M = sp.diags(1.0 / np.where(d > 0, d, 1.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vals, vecs = spla.lobpcg(Lc, X0, M=M, Y=Y, tol=tol, maxiter=maxiter, largest=False)
    return vals, vecs


def _dense(Lc, m):
    n = Lc.shape[0]
    A = Lc.toarray() if sp.issparse(Lc) else np.array(Lc)
    shift = 2.0 * float(np.max(np.diag(A))) + 1.0
    A += shift / n  # moves the constant vector's eigenvalue from 0 to `shift`, above the spectrum
    vals, vecs = sla.eigh(A, subset_by_index=[0, m - 1])
    return vals, vecs


def component_bottom_eigenpairs(Lc, m, *, solver="auto", seed=0, tol=1e-8, maxiter=None):
    """The ``m`` smallest non-zero eigenpairs of a connected graph's Laplacian ``Lc``.

    The constant eigenvector (eigenvalue 0) is excluded. Returns ``(values, vectors)`` ascending, vectors
    orthonormal and orthogonal to the constant.
    """
    n = Lc.shape[0]
    if m <= 0:
        return np.zeros(0), np.zeros((n, 0))
    if m > n - 1:
        raise ValueError(f"a component of {n} nodes has only {n - 1} non-zero eigenpairs, {m} requested")
    if solver == "auto":
        solver = "dense" if n <= DENSE_MAX_NODES or m >= n // 3 else "lanczos"
        if solver == "lanczos":
            try:
                vals, vecs = _lanczos(Lc, m, seed, tol, maxiter or max(1000, 20 * m))
            except spla.ArpackNoConvergence:
                solver = "shift_invert"
            else:
                return _finish(vals, vecs)
    if solver == "dense":
        vals, vecs = _dense(Lc, m)
    elif solver == "lanczos":
        vals, vecs = _lanczos(Lc, m, seed, tol, maxiter)
    elif solver == "shift_invert":
        vals, vecs = _shift_invert(Lc, m, seed, tol)
    elif solver == "lobpcg":
        vals, vecs = _lobpcg(Lc, m, seed, max(tol, 1e-6), maxiter or 500)
    else:
        raise ValueError(f"unknown eigensolver {solver!r}; choose one of {', '.join(SOLVERS)}")
    return _finish(vals, vecs)


def _finish(vals, vecs):
    order = np.argsort(vals)
    vals = np.maximum(vals[order], 0.0)
    vecs = vecs[:, order]
    vecs = vecs - vecs.mean(axis=0, keepdims=True)  # remove rounding-level leakage onto the constant
    vecs, _ = np.linalg.qr(vecs)
    return vals, vecs


def laplacian_eigenvectors(G, k, *, solver="auto", seed=0, tol=1e-8):
    """The ``k`` smallest eigenpairs of ``L = D − G`` orthogonal to the constant vector.

    Equivalently ``λ_2 ≤ … ≤ λ_{k+1}`` and ``U_{2:k+1}`` in ``theory.md``'s notation. On a graph with ``c``
    components the first ``min(k, c − 1)`` vectors (eigenvalue 0) are centred, orthonormalised component
    indicators, largest components first.

    Args:
        G: positive-pair graph, shape ``(N, N)``.
        k: number of eigenpairs, ``1 ≤ k ≤ N − 1``.
        solver: one of :data:`SOLVERS` (see the module docstring).
        seed: seed of the iterative solvers' start vectors.
        tol: relative tolerance of the iterative solvers.

    Returns:
        ``(values, vectors)``: shapes ``(k,)`` ascending and ``(N, k)`` with orthonormal columns, each orthogonal
        to the constant vector.
    """
    if solver not in SOLVERS:
        raise ValueError(f"unknown eigensolver {solver!r}; choose one of {', '.join(SOLVERS)}")
    G = validate_graph(G)
    N = G.shape[0]
    k = check_positive_int(k, "k")
    if k > N - 1:
        raise ValueError(f"asked for {k} eigenvectors, but a graph of N={N} nodes has only N − 1 = {N - 1} "
                         "non-constant ones; use dim ≤ N − 1")
    n_comp, labels = connected_components(G)
    sizes = np.bincount(labels)
    order = np.argsort(-sizes, kind="stable")
    n_zero = min(k, n_comp - 1)
    vals = [np.zeros(n_zero)]
    vecs = [_component_indicator_basis(labels, n_comp, n_zero, order)] if n_zero else []
    remaining = k - n_zero
    if remaining > 0:
        L = laplacian(G)
        cand_vals, cand_vecs = [], []
        for comp in order:
            idx = np.flatnonzero(labels == comp)
            m = min(remaining, idx.size - 1)
            if m <= 0:
                continue
            Lc = L[idx][:, idx]
            cv, cu = component_bottom_eigenpairs(Lc, m, solver=solver, seed=seed, tol=tol)
            full = np.zeros((N, m))
            full[idx] = cu
            cand_vals.append(cv)
            cand_vecs.append(full)
        if not cand_vals:
            raise ValueError(f"the graph has no non-constant eigenvectors left for k={k}")
        cv = np.concatenate(cand_vals)
        cu = np.concatenate(cand_vecs, axis=1)
        pick = np.argsort(cv, kind="stable")[:remaining]
        if pick.size < remaining:
            raise ValueError(f"only {n_zero + pick.size} eigenvectors exist for k={k}; use a smaller dim")
        vals.append(cv[pick])
        vecs.append(cu[:, pick])
    return np.concatenate(vals), np.concatenate(vecs, axis=1)
