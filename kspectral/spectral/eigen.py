"""Bottom eigenpairs of graph Laplacians, connected components first.

:func:`laplacian_eigenvectors` returns the eigenpairs ``(λ_2..λ_{K+1}, U_{2:K+1})`` of ``L = D − G`` on the
subspace orthogonal to the constant vector, the basis of every local closed form (``theory.md`` §3.2).

A disconnected graph is split first: with ``c`` components, eigenvalue 0 has multiplicity ``c`` and its
eigenvectors are the component indicators, which ``eigsh`` can miss or mix. They are built exactly (centred,
orthonormal), and only each component's non-zero spectrum goes to an eigensolver:

- ``"dense"``: ``scipy.linalg.eigh`` (small components);
- ``"lanczos"``: ``eigsh`` on the complementary largest-eigenvalue problem ``σI − L`` with the constant
  deflated (fast when the bottom of the spectrum is not crowded relative to ``λ_max``: kNN graphs of
  high-dimensional data); memory ``O(nnz + N·ncv)``;
- ``"shift_invert"``: ``eigsh`` in shift-invert mode around ``−δ`` (a sparse LU of the positive definite
  ``L + δI``, with a symmetric minimum-degree ordering and no pivoting; fast on low-dimensional manifolds, whose
  bottom eigenvalues crowd together but whose LU fill is small);
- ``"lobpcg"``: ``scipy.sparse.linalg.lobpcg`` with the constant as a constraint and a Jacobi preconditioner;
- ``"auto"``: chooses per component, by the graph (below).

The ``"auto"`` rule
-------------------
A component of ``n`` nodes asked for ``m`` eigenpairs goes to

1. ``"dense"`` if ``n ≤`` :data:`DENSE_MAX_NODES`, or if ``m ≥ n // 3`` and ``n ≤`` :data:`DENSE_MANY_MAX_NODES`;
2. otherwise a probe measures the graph's *hop dimension* ``d̂ = log n / log e``, where ``e`` is the hop
   eccentricity of a pseudo-peripheral node (two breadth-first searches, ``O(nnz)``: 0.01 s at N = 20 000,
   0.09 s at N = 100 000). On a kNN graph of a ``d``-dimensional manifold ``e ∝ n^{1/d}``, so ``d̂`` estimates
   the intrinsic dimension; kNN graphs of high-dimensional features are small-world graphs (``e`` ≈ 4 to 8)
   with ``d̂ ≳ 4``. The dimension sets both costs: the bottom eigenvalues scale like ``(m/n)^{2/d}·λ_max``, so
   Lanczos needs many iterations when ``d`` is small, while the LU fill of shift-invert grows like
   ``n log n`` for ``d = 2``, ``n^{4/3}`` for ``d = 3`` and towards ``n²`` (a dense factor) for large ``d``;
3. ``"shift_invert"`` if ``d̂ ≤`` :data:`SHIFT_INVERT_MAX_DIM`, else ``"lanczos"`` with a budget of
   ``max(1000, 20 m)`` restarts; should it not converge, shift-invert if ``d̂ ≤``
   :data:`FALLBACK_SHIFT_INVERT_MAX_DIM` (the LU is still affordable), else LOBPCG.

:func:`choose_solver` tells which solver ``"auto"`` uses on a graph's largest component.

The rule comes from timing the solvers on kNN graphs of manifolds and of high-dimensional features
(``benchmarks/spectral_embedding.py``; ``BENCHMARKS.md`` and ``docs/notes.md`` have the timings): shift-invert
was the faster one on every graph of hop dimension ≤ 2.22 and Lanczos on every graph of hop dimension ≥ 2.68,
hence the threshold 2.4; LOBPCG was never the fastest, and dense ``eigh`` loses past about 400 nodes, hence
:data:`DENSE_MAX_NODES`.

Threads: the iterative solvers run with :data:`ITERATIVE_BLAS_THREADS` BLAS threads (``threadpoolctl``, restored
afterwards): ARPACK makes many small level-1/2 BLAS calls, on which OpenBLAS's thread hand-offs cost more than
they gain (the same Lanczos solve ran 5× to 60× slower with two threads than with one; ``docs/notes.md``).

Memory: the dense solver is only used on components of at most :data:`DENSE_MAX_NODES` nodes (or of at most
:data:`DENSE_MANY_MAX_NODES` when ``m ≥ n/3`` eigenvectors are asked for, an ``O(n·m)`` output anyway). Lanczos
and LOBPCG need ``O(nnz + n·m)``. Shift-invert's LU is only built on graphs of hop dimension ≤ 2.4 (≤ 3 after a
Lanczos failure), where its fill stays near-linear (about 5× nnz(L) on a Swiss roll kNN graph).
"""

from __future__ import annotations

import contextlib
import math
import warnings

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse import csgraph

from kspectral._validation import check_positive_int
from kspectral.spectral.graphs import connected_components, validate_graph
from kspectral.spectral.laplacian import laplacian

SOLVERS = ("auto", "dense", "lanczos", "shift_invert", "lobpcg")
#: Components of at most this many nodes use dense ``eigh`` under ``"auto"``.
DENSE_MAX_NODES = 400
#: ... and so do components of at most this many nodes when a third of their spectrum or more is asked for.
DENSE_MANY_MAX_NODES = 10_000
#: ``"auto"`` uses shift-invert on components whose hop dimension (:func:`hop_dimension`) is at most this.
SHIFT_INVERT_MAX_DIM = 2.4
#: After Lanczos fails to converge, ``"auto"`` retries with shift-invert up to this hop dimension, else LOBPCG.
FALLBACK_SHIFT_INVERT_MAX_DIM = 3.0
#: Shift of the shift-invert solver, relative to the mean degree: the LU factorises ``L + δI``.
SHIFT_INVERT_DELTA = 1e-5
#: BLAS threads of the iterative solvers (``None``: leave the BLAS thread pool alone).
ITERATIVE_BLAS_THREADS = 1


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


_THREADPOOL_CONTROLLER = []  # one threadpoolctl controller, created on first use (it scans the loaded libraries)


def _blas_threads():
    """Context limiting the BLAS thread pool to :data:`ITERATIVE_BLAS_THREADS` (no-op without threadpoolctl)."""
    if ITERATIVE_BLAS_THREADS is None:
        return contextlib.nullcontext()
    if not _THREADPOOL_CONTROLLER:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
            return contextlib.nullcontext()
        _THREADPOOL_CONTROLLER.append(ThreadpoolController())
    return _THREADPOOL_CONTROLLER[0].limit(limits=ITERATIVE_BLAS_THREADS, user_api="blas")


def hop_dimension(L):
    """Hop dimension ``d̂ = log n / log e`` of a connected graph, and the eccentricity ``e`` it used.

    ``e`` is the hop eccentricity of a pseudo-peripheral node: the farthest node (in hops) from node 0, then the
    farthest from it. Two breadth-first searches, ``O(nnz)``. On a kNN graph of a ``d``-dimensional manifold
    ``e ∝ n^{1/d}`` and ``d̂ ≈ d`` (Swiss roll: 1.9; uniform cube: 2.7); kNN graphs of high-dimensional
    features have ``e`` ≈ 4 to 8 and ``d̂ ≳ 4``.

    Args:
        L: the graph's Laplacian or adjacency matrix (only the sparsity pattern is used), shape ``(n, n)``.

    Returns:
        ``(d̂, e)``; ``d̂ = inf`` for fewer than 3 nodes.
    """
    A = sp.csr_matrix(L)
    A = sp.csr_matrix((np.ones(A.nnz), A.indices, A.indptr), shape=A.shape)  # the pattern: hop distances
    n = A.shape[0]
    if n < 3:
        return math.inf, max(n - 1, 0)
    first = csgraph.shortest_path(A, unweighted=True, indices=0)
    first[~np.isfinite(first)] = -1.0
    far = int(np.argmax(first))
    dist = csgraph.shortest_path(A, unweighted=True, indices=far)
    ecc = int(np.max(dist[np.isfinite(dist)]))
    return math.log(n) / math.log(max(ecc, 2)), ecc


def _auto_solver(Lc, m):
    """The solver ``"auto"`` uses on a connected component, and its hop dimension (``nan`` if not probed)."""
    n = Lc.shape[0]
    if n <= DENSE_MAX_NODES or (m >= n // 3 and n <= DENSE_MANY_MAX_NODES):
        return "dense", math.nan
    dim, _ = hop_dimension(Lc)
    return ("shift_invert" if dim <= SHIFT_INVERT_MAX_DIM else "lanczos"), dim


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
    delta = SHIFT_INVERT_DELTA * max(float(Lc.diagonal().mean()), 1e-300)
    # L + δI is symmetric positive definite: a symmetric fill-reducing ordering (minimum degree on A + Aᵀ) and
    # no pivoting halve the LU's fill and time against splu's default (COLAMD with partial pivoting).
    lu = spla.splu(sp.csc_matrix(Lc + delta * sp.identity(n, format="csc")), permc_spec="MMD_AT_PLUS_A",
                   diag_pivot_thresh=0.0, options={"SymmetricMode": True})
    OPinv = spla.LinearOperator((n, n), matvec=lambda x: lu.solve(np.asarray(x, dtype=np.float64)), dtype=np.float64)
    v0 = np.random.default_rng(seed).standard_normal(n)
    vals, vecs = spla.eigsh(Lc, k=m + 1, sigma=-delta, which="LM", OPinv=OPinv, v0=v0, tol=tol)
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
    if solver not in SOLVERS:
        raise ValueError(f"unknown eigensolver {solver!r}; choose one of {', '.join(SOLVERS)}")
    if solver == "auto":
        solver, dim = _auto_solver(Lc, m)
        if solver == "lanczos":
            try:
                with _blas_threads():
                    vals, vecs = _lanczos(Lc, m, seed, tol, maxiter or max(1000, 20 * m))
            except spla.ArpackNoConvergence:
                solver = "shift_invert" if dim <= FALLBACK_SHIFT_INVERT_MAX_DIM else "lobpcg"
            else:
                return _finish(vals, vecs)
    if solver == "dense" or n <= 2 * m + 8:  # too small for ARPACK (it needs m + 1 < ncv ≤ n) and LOBPCG
        vals, vecs = _dense(Lc, m)
        return _finish(vals, vecs)
    with _blas_threads():
        if solver == "lanczos":
            vals, vecs = _lanczos(Lc, m, seed, tol, maxiter)
        elif solver == "shift_invert":
            vals, vecs = _shift_invert(Lc, m, seed, tol)
        else:
            vals, vecs = _lobpcg(Lc, m, seed, max(tol, 1e-6), maxiter or 500)
    return _finish(vals, vecs)


def _finish(vals, vecs):
    order = np.argsort(vals)
    vals = np.maximum(vals[order], 0.0)
    vecs = vecs[:, order]
    vecs = vecs - vecs.mean(axis=0, keepdims=True)  # remove rounding-level leakage onto the constant
    vecs, _ = np.linalg.qr(vecs)
    return vals, vecs


def _plan(G, k):
    """Validate ``(G, k)`` and split the work among components.

    Returns ``(G, N, labels, n_comp, order, n_zero, remaining, by_label, work)``: ``n_zero`` indicator vectors,
    then ``remaining`` eigenpairs to pick among the components' non-zero spectra. ``by_label`` lists the nodes
    grouped by component, and ``work`` lists ``(start, stop, m)`` for every component with a non-zero spectrum,
    largest first: its nodes are ``by_label[start:stop]`` and it contributes ``m = min(remaining, size − 1)``
    candidates.
    """
    G = validate_graph(G)
    N = G.shape[0]
    k = check_positive_int(k, "k")
    if k > N - 1:
        raise ValueError(f"asked for {k} eigenvectors, but a graph of N={N} nodes has only N − 1 = {N - 1} "
                         "non-constant ones; use dim ≤ N − 1")
    n_comp, labels = connected_components(G)
    sizes = np.bincount(labels, minlength=n_comp)
    order = np.argsort(-sizes, kind="stable")
    n_zero = min(k, n_comp - 1)
    remaining = k - n_zero
    work = []
    by_label = np.argsort(labels, kind="stable")  # nodes grouped by component, in O(N log N) once
    if remaining > 0:
        starts = np.concatenate([[0], np.cumsum(sizes)])
        for comp in order:
            if sizes[comp] < 2:
                break  # sizes are descending: only isolated nodes are left
            work.append((int(starts[comp]), int(starts[comp + 1]), min(remaining, int(sizes[comp]) - 1)))
    return G, N, labels, n_comp, order, n_zero, remaining, by_label, work


def choose_solver(G, k):
    """The eigensolver ``solver="auto"`` uses for ``laplacian_eigenvectors(G, k)`` on the largest component.

    Returns one of ``"dense"``, ``"lanczos"``, ``"shift_invert"`` (before any fallback), or ``"none"`` when the
    ``k`` eigenvectors are all component indicators and no eigensolver runs.
    """
    G, *_, by_label, work = _plan(G, k)
    if not work:
        return "none"
    start, stop, m = work[0]
    idx = by_label[start:stop]
    return _auto_solver(laplacian(G)[idx][:, idx], m)[0]


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
    G, N, labels, n_comp, order, n_zero, remaining, by_label, work = _plan(G, k)
    vals = [np.zeros(n_zero)]
    vecs = [_component_indicator_basis(labels, n_comp, n_zero, order)] if n_zero else []
    if remaining > 0:
        L = laplacian(G)
        if n_comp > 1:  # one O(nnz) permutation; then every component is a contiguous diagonal block
            L = sp.csr_matrix(L[by_label][:, by_label])
        parts, cand_vals, owner, column = [], [], [], []
        for j, (start, stop, m) in enumerate(work):
            Lc = L[start:stop, start:stop] if n_comp > 1 else L
            cv, cu = component_bottom_eigenpairs(Lc, m, solver=solver, seed=seed, tol=tol)
            parts.append((by_label[start:stop], cu))  # component-local vectors: Σ_j n_j·m_j ≤ N·k numbers
            cand_vals.append(cv)
            owner.append(np.full(m, j))
            column.append(np.arange(m))
        if not cand_vals:
            raise ValueError(f"the graph has no non-constant eigenvectors left for k={k}")
        cv = np.concatenate(cand_vals)
        owner = np.concatenate(owner)
        column = np.concatenate(column)
        pick = np.argsort(cv, kind="stable")[:remaining]
        if pick.size < remaining:
            raise ValueError(f"only {n_zero + pick.size} eigenvectors exist for k={k}; use a smaller dim")
        chosen = np.zeros((N, remaining))
        for col, p in enumerate(pick):
            idx, cu = parts[owner[p]]
            chosen[idx, col] = cu[:, column[p]]
        vals.append(cv[pick])
        vecs.append(chosen)
    return np.concatenate(vals), np.concatenate(vecs, axis=1)
