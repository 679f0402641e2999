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
- ``"amg"``: ``lobpcg`` with the constant as a constraint, preconditioned by an algebraic-multigrid V-cycle of
  ``L + δI`` (pyamg's aggregation hierarchy, optional dependency: extra ``scale``), as scikit-learn's
  ``spectral_embedding(eigen_solver="amg")``, but with its own block cycle (:func:`_amg_block_vcycle`). Its
  iteration count hardly grows with ``N`` and does not depend on ``λ_max``, so it is the one that scales to
  kNN graphs of a million high-dimensional points, whose hubs make ``λ_max ≈ 2·d_max`` large (below);
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
3. ``"shift_invert"`` if ``d̂ ≤`` :data:`SHIFT_INVERT_MAX_DIM`;
4. else ``"amg"`` if ``n ≥`` :data:`AMG_MIN_NODES` and pyamg is installed; should LOBPCG not converge within
   :data:`AMG_MAXITER` iterations, Lanczos (step 5);
5. else ``"lanczos"`` with a budget of ``max(1000, 20 m)`` restarts; should it not converge, shift-invert if
   ``d̂ ≤`` :data:`FALLBACK_SHIFT_INVERT_MAX_DIM` (the LU is still affordable), else LOBPCG.

:func:`choose_solver` tells which solver ``"auto"`` uses on a graph's largest component.

The rule comes from timing the solvers on kNN graphs of manifolds and of high-dimensional features
(``benchmarks/spectral_embedding.py``; ``BENCHMARKS.md`` and ``docs/notes.md`` have the timings): shift-invert
was the faster one on every graph of hop dimension ≤ 2.22 and Lanczos on every graph of hop dimension ≥ 2.68,
hence the threshold 2.4; LOBPCG was never the fastest, and dense ``eigh`` loses past about 400 nodes, hence
:data:`DENSE_MAX_NODES`.

AMG against Lanczos (``K = 8``, kNN graphs with ``k = 10`` of the benchmark's ``features64`` family, built by
:func:`~kspectral.spectral.knn_graph`, and the Swiss roll against shift-invert; CPU seconds of one process with
one BLAS thread, on the shared 2-core VM, 1-minute load average in brackets; cosines are the principal-angle
cosines between the two solvers' subspaces, residuals ``max ‖Lu − λu‖``):

=====================  ======================  ============  ============  =====================
graph                  Lanczos CPU s           AMG CPU s     min cosine    residual: other / AMG
=====================  ======================  ============  ============  =====================
features64, 100 000    10.6 (3.2)              6.2 (3.3)     1 − 2e-9      4.8e-6 / 1.0e-5
features64, 200 000    31.1 (3.9)              14.8 (4.2)    1 − 6e-9      2.5e-6 / 2.0e-5
features64, 1 000 000  654 (2.1)               122 (2.9)     1 − 3e-8      3.0e-5 / 3.1e-5
Swiss roll, 100 000    shift-invert 1.7 (4.1)  7.0 (4.1)     1 − 3e-10     1.6e-12 / 3.5e-7
=====================  ======================  ============  ============  =====================

Notes. ``d_max`` = 514, 1 007 and 1 676 on the three feature graphs: Lanczos' stopping test scales with it, and
AMG's does too, by design (:func:`_amg`), hence AMG's residuals at the level of Lanczos' tolerance rather than
of its actual residuals. ``benchmarks/million_points.py`` measured 611 CPU-s for the same Lanczos solve. On a quieter machine
(load 1), with Jacobi weight 2/3 instead of 1, Lanczos took 8.6 s and AMG 4.7 s at 100 000, and AMG 135 s at
1 000 000. Lanczos' time grows 3× to 3.7× per doubling of ``N`` on these graphs, AMG's about linearly (its
LOBPCG needed 55 to 110 iterations at every size). The AMG set-up costs 3 to 4 s at N = 1 000 000.
Hence :data:`AMG_MIN_NODES` = 150 000: AMG won at 100 000 as well (1.7× to 1.8×), but up to 100 000 nodes
``"auto"`` is left as it was, so that the documented benchmarks keep their solver; past it AMG wins by 2× and
more, by 5× at 1 000 000. On manifolds shift-invert stays 4× to 5× faster than AMG, so the hop-dimension rule
comes first. Pyamg's own ``ml.aspreconditioner()`` (one Gauss–Seidel V-cycle per column) took 233 CPU-s at
1 000 000, and smoothed aggregation's set-up alone over two minutes there (:func:`_amg_block_vcycle`).

Threads: the iterative solvers run with :data:`ITERATIVE_BLAS_THREADS` BLAS threads (``threadpoolctl``, restored
afterwards): ARPACK makes many small level-1/2 BLAS calls, on which OpenBLAS's thread hand-offs cost more than
they gain (the same Lanczos solve ran 5× to 60× slower with two threads than with one; ``docs/notes.md``).

Memory: AMG keeps a single-precision copy of ``L + δI``, a permuted copy of ``L`` and coarse levels of 10 to
20 % of its size: ``O(nnz + n·m)`` too. The dense solver is only used on components of at most
:data:`DENSE_MAX_NODES` nodes (or of at most :data:`DENSE_MANY_MAX_NODES` when ``m ≥ n/3`` eigenvectors are asked for, an ``O(n·m)`` output anyway). Lanczos
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
from kspectral.errors import InputError

SOLVERS = ("auto", "dense", "lanczos", "shift_invert", "lobpcg", "amg")


def check_solver(solver, solvers=SOLVERS):
    """``solver`` if it is one of ``solvers`` (default :data:`SOLVERS`), else an ``InputError`` listing them."""
    if solver not in solvers:
        raise InputError(f"unknown eigensolver {solver!r}; choose one of {', '.join(solvers)}")
    return solver

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
#: Shift of the AMG preconditioner, relative to the mean degree: pyamg builds its hierarchy on ``L + δI``.
AMG_SHIFT = 1e-5
#: Coarsest AMG level size (solved by a dense Cholesky factorisation).
AMG_MAX_COARSE = 500
#: Jacobi sweeps before and after each coarse correction of the AMG V-cycle, and their weight. The sweep
#: converges for any weight below ``2/λ_max(D⁻¹(L + δI))`` and ``λ_max(D⁻¹L) ≤ 2`` on every graph, so 1 is safe;
#: it took 73 LOBPCG iterations at N = 200 000 (features64) against 90 with the textbook 2/3.
AMG_SMOOTHING_SWEEPS = 2
AMG_JACOBI_WEIGHT = 1.0
#: LOBPCG iterations of the AMG solver, unless ``maxiter`` is given.
AMG_MAXITER = 500
#: ``"auto"`` uses AMG-preconditioned LOBPCG instead of Lanczos on components of at least this many nodes
#: (when pyamg is installed).
AMG_MIN_NODES = 150_000
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
    if dim <= SHIFT_INVERT_MAX_DIM:
        return "shift_invert", dim
    if n >= AMG_MIN_NODES and _pyamg_available():
        return "amg", dim
    return "lanczos", dim


def _pyamg_available():
    """Whether the optional dependency pyamg (extra ``scale``) can be imported."""
    import importlib.util

    return importlib.util.find_spec("pyamg") is not None


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


def _amg_block_vcycle(A, seed):
    """AMG V-cycle for the positive definite ``A = L + δI``, applied to a whole block of vectors at once.

    Returns ``(M, order)``: the V-cycle is a preconditioner of ``A[order][:, order]``, the nodes renumbered
    aggregate by aggregate.

    The hierarchy is pyamg's aggregation: :func:`pyamg.smoothed_aggregation_solver` with ``smooth=None``
    (plain, unsmoothed aggregation; the constant is the near-null-space vector). Smoothed prolongators were tried
    and dropped: on kNN graphs of high-dimensional features (small-world graphs, whose aggregates have
    neighbours in thousands of other aggregates) the Galerkin product ``PᵀAP`` fills in, and the set-up alone
    took over two minutes at N = 1 000 000. The cycle is our own rather than ``ml.aspreconditioner()``, which
    runs one V-cycle per column with Gauss–Seidel: at N = 1 000 000 that took 233 CPU-s for 55 LOBPCG iterations.
    Here each level does :data:`AMG_SMOOTHING_SWEEPS` Jacobi sweeps before and after the coarse correction
    (the same number, so the cycle is symmetric, as LOBPCG needs), on all the block's columns in one sparse
    product, in single precision (a preconditioner needs no more), with the nodes renumbered aggregate by
    aggregate (together, a sparse product with 8 columns went from 0.52 to 0.18 CPU-s at N = 1 000 000), and the
    coarsest level is solved by a dense Cholesky factorisation.

    pyamg draws random start vectors from NumPy's global generator; it is seeded for the build and restored
    afterwards, so that the result depends on ``seed`` only.
    """
    from pyamg import smoothed_aggregation_solver

    state = np.random.get_state()
    np.random.seed(seed)
    try:
        ml = smoothed_aggregation_solver(sp.csr_array(A), smooth=None, max_coarse=AMG_MAX_COARSE)
    finally:
        np.random.set_state(state)
    # Number the nodes aggregate by aggregate (coarsest aggregates outermost): neighbours then sit close in
    # memory, which halves the time of the sparse products on a kNN graph stored in random order.
    levels = ml.levels
    parents = [sp.csr_matrix(level.P).indices for level in levels[:-1]]  # unsmoothed P: one entry per row
    orders = []
    for lvl in range(len(levels)):
        keys = [np.arange(levels[lvl].A.shape[0])]
        for parent in parents[lvl:]:
            keys.append(parent[keys[-1]])
        orders.append(np.lexsort(keys))
    dtype = np.float32
    mats = [sp.csr_matrix(sp.csr_matrix(level.A)[order][:, order], dtype=dtype)
            for level, order in zip(levels, orders)]
    prolong = [sp.csr_matrix(sp.csr_matrix(levels[lvl].P)[orders[lvl]][:, orders[lvl + 1]], dtype=dtype)
               for lvl in range(len(levels) - 1)]
    restrict = [sp.csr_matrix(P.T) for P in prolong]
    jacobi = [(AMG_JACOBI_WEIGHT / mat.diagonal())[:, None].astype(dtype) for mat in mats]
    coarsest = sla.cho_factor(mats[-1].toarray().astype(np.float64))
    sweeps = AMG_SMOOTHING_SWEEPS

    def cycle(level, B):
        if level == len(mats) - 1:
            return sla.cho_solve(coarsest, B.astype(np.float64)).astype(dtype)
        mat, dinv = mats[level], jacobi[level]
        X = dinv * B  # first sweep from X = 0
        for _ in range(sweeps - 1):
            X += dinv * (B - mat @ X)
        X += prolong[level] @ cycle(level + 1, restrict[level] @ (B - mat @ X))
        for _ in range(sweeps):
            X += dinv * (B - mat @ X)
        return X

    n = A.shape[0]

    def apply(B):
        B = np.asarray(B)
        return cycle(0, B.reshape(n, -1).astype(dtype)).astype(np.float64).reshape(B.shape)

    return spla.LinearOperator((n, n), matvec=apply, matmat=apply, dtype=np.float64), orders[0]


def _amg(Lc, m, seed, tol, maxiter):
    """LOBPCG on ``L``, preconditioned by an AMG V-cycle of ``L + δI``, the constant vector as a constraint.

    ``tol`` has Lanczos' meaning: LOBPCG stops when every residual ``‖Lu − λu‖`` (unit ``u``) is below
    ``tol · 2·d_max``, which is ARPACK's stopping test on ``σI − L`` with ``σ ≈ 2·d_max``. Returns
    ``(values, vectors, converged)``.
    """
    if not _pyamg_available():
        raise ImportError("solver='amg' needs pyamg: pip install 'kspectral[scale]' (or pick solver='auto')")
    n = Lc.shape[0]
    deg = Lc.diagonal()
    delta = AMG_SHIFT * max(float(deg.mean()), 1e-300)  # L + δI is positive definite: AMG needs that
    M, order = _amg_block_vcycle(Lc + delta * sp.identity(n, format="csr"), seed)
    Lp = sp.csr_matrix(Lc[order][:, order])  # the problem in the preconditioner's numbering
    X0 = np.random.default_rng(seed).standard_normal((n, m))
    Y = np.full((n, 1), 1.0 / np.sqrt(n))
    abs_tol = tol * 2.0 * max(float(deg.max()), 1e-300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vals, vecs_p = spla.lobpcg(Lp, X0, M=M, Y=Y, tol=abs_tol, maxiter=maxiter, largest=False)
    residuals = np.linalg.norm(Lp @ vecs_p - vecs_p * vals, axis=0) / np.linalg.norm(vecs_p, axis=0)
    vecs = np.empty_like(vecs_p)
    vecs[order] = vecs_p
    return vals, vecs, bool(np.all(residuals <= 2.0 * abs_tol))


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
        raise InputError(f"a component of {n} nodes has only {n - 1} non-zero eigenpairs, {m} requested")
    check_solver(solver)
    if solver == "auto":
        solver, dim = _auto_solver(Lc, m)
        if solver == "amg":
            with _blas_threads():
                vals, vecs, converged = _amg(Lc, m, seed, tol, maxiter or AMG_MAXITER)
            if converged:
                return _finish(vals, vecs)
            solver = "lanczos"  # not converged within the budget: Lanczos, and its own fallbacks
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
        elif solver == "amg":
            vals, vecs, converged = _amg(Lc, m, seed, tol, maxiter or AMG_MAXITER)
            if not converged:
                warnings.warn(f"AMG-preconditioned LOBPCG did not reach tol={tol} on a component of {n} nodes",
                              RuntimeWarning, stacklevel=2)
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
        raise InputError(f"asked for {k} eigenvectors, but a graph of N={N} nodes has only N − 1 = {N - 1} "
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

    Returns one of ``"dense"``, ``"lanczos"``, ``"shift_invert"``, ``"amg"`` (before any fallback), or ``"none"``
    when the ``k`` eigenvectors are all component indicators and no eigensolver runs.
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
    check_solver(solver)
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
            raise InputError(f"the graph has no non-constant eigenvectors left for k={k}")
        cv = np.concatenate(cand_vals)
        owner = np.concatenate(owner)
        column = np.concatenate(column)
        pick = np.argsort(cv, kind="stable")[:remaining]
        if pick.size < remaining:
            raise InputError(f"only {n_zero + pick.size} eigenvectors exist for k={k}; use a smaller dim")
        chosen = np.zeros((N, remaining))
        for col, p in enumerate(pick):
            idx, cu = parts[owner[p]]
            chosen[idx, col] = cu[:, column[p]]
        vals.append(cv[pick])
        vecs.append(chosen)
    return np.concatenate(vals), np.concatenate(vecs, axis=1)
