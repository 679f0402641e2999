"""Correctness of the Laplacian eigensolvers (``kspectral.spectral.eigen``); timings live in ``benchmarks/``."""

import warnings

import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sp

from kspectral.spectral import (
    graph_from_pairs,
    knn_graph,
    laplacian,
    laplacian_eigenmaps,
    laplacian_eigenvectors,
    principal_angle_cosines,
)
from kspectral.spectral import eigen

ITERATIVE = ("lanczos", "shift_invert", "lobpcg")
ALL = ("dense",) + ITERATIVE + ("auto",)


def _weighted_knn(n, d, seed, k=6):
    """Connected kNN graph with random positive weights (distinct eigenvalues, so eigenvectors are defined)."""
    rng = np.random.default_rng(seed)
    G = knn_graph(rng.standard_normal((n, d)), k)
    upper = sp.triu(G, k=1).tocoo()
    w = rng.uniform(0.5, 2.0, upper.nnz)
    W = sp.coo_matrix((w, (upper.row, upper.col)), shape=G.shape).tocsr()
    return sp.csr_matrix(W + W.T)


def _dense_reference(G, k):
    """Eigenpairs 2..k+1 of L by dense ``eigh`` (connected graph: the constant is eigenpair 1)."""
    vals, vecs = sla.eigh(laplacian(G).toarray())
    return vals[1 : k + 1], vecs[:, 1 : k + 1]


def _assert_valid_basis(U, N, k):
    assert U.shape == (N, k)
    np.testing.assert_allclose(U.T @ U, np.eye(k), atol=1e-8)
    np.testing.assert_allclose(U.sum(axis=0), 0.0, atol=1e-8)


@pytest.mark.parametrize("solver", ALL)
def test_solvers_match_dense_eigh(solver):
    G = _weighted_knn(300, 5, seed=1)
    k = 6
    ref_vals, ref_vecs = _dense_reference(G, k)
    assert np.min(np.diff(ref_vals)) > 1e-3  # well-separated: the eigenvectors are defined
    vals, U = laplacian_eigenvectors(G, k, solver=solver, tol=1e-10)
    _assert_valid_basis(U, 300, k)
    np.testing.assert_allclose(vals, ref_vals, atol=1e-8, rtol=0)
    assert principal_angle_cosines(U, ref_vecs).min() > 0.999999
    for j in range(k):  # each vector, not only the span
        assert abs(U[:, j] @ ref_vecs[:, j]) > 0.999999


@pytest.mark.parametrize("solver", ITERATIVE)
def test_iterative_solvers_on_a_manifold_graph(solver):
    """A 2-D manifold (crowded bottom spectrum) still converges to the dense answer."""
    rng = np.random.default_rng(3)
    t = rng.uniform(0, 3, (400, 2))
    X = np.c_[t[:, 0] * np.cos(2 * t[:, 0]), t[:, 1], t[:, 0] * np.sin(2 * t[:, 0])]
    G = knn_graph(X, 8, weights="heat")
    assert eigen.connected_components(G)[0] == 1
    ref_vals, ref_vecs = _dense_reference(G, 5)
    vals, U = laplacian_eigenvectors(G, 5, solver=solver, tol=1e-10)
    np.testing.assert_allclose(vals, ref_vals, atol=1e-8, rtol=0)
    assert principal_angle_cosines(U, ref_vecs).min() > 0.999999


def _blocks(sizes, seed=0, extra_isolated=0):
    """Disjoint random connected components (a path plus random chords, random weights), then isolated nodes."""
    rng = np.random.default_rng(seed)
    rows, cols, offset = [], [], 0
    for s in sizes:
        nodes = offset + rng.permutation(s)
        rows += list(nodes[:-1])
        cols += list(nodes[1:])
        for _ in range(s):
            a, b = rng.choice(nodes, 2, replace=False)
            rows.append(a)
            cols.append(b)
        offset += s
    n = offset + extra_isolated
    i, j = np.array(rows), np.array(cols)
    G = graph_from_pairs(i, j, n, weights=rng.uniform(0.5, 2.0, i.size))
    perm = rng.permutation(n)  # interleave the components
    return sp.csr_matrix(G[perm][:, perm])


@pytest.mark.parametrize("solver", ALL)
def test_disconnected_graph_zero_eigenvalues_are_indicators(solver):
    sizes = [120, 90, 60, 40]
    G = _blocks(sizes, seed=2)
    c = len(sizes)
    n_comp, labels = eigen.connected_components(G)
    assert n_comp == c
    k = 7
    vals, U = laplacian_eigenvectors(G, k, solver=solver, tol=1e-10)
    _assert_valid_basis(U, G.shape[0], k)
    np.testing.assert_array_equal(vals[: c - 1], 0.0)
    assert np.all(vals[c - 1 :] > 1e-6)
    for j in range(c - 1):  # constant on every component
        for comp in range(c):
            col = U[labels == comp, j]
            assert np.ptp(col) < 1e-12
    # The whole spectrum matches dense eigh of L (c zeros, the first one being the constant).
    all_vals = sla.eigh(laplacian(G).toarray(), eigvals_only=True)
    np.testing.assert_allclose(vals, all_vals[1 : k + 1], atol=1e-8)
    # The vectors span eigenspaces of L: ‖LU − UΛ‖ small.
    L = laplacian(G)
    assert np.abs(L @ U - U * vals).max() < 1e-6


@pytest.mark.parametrize("solver", ["auto", "lanczos", "shift_invert"])
def test_isolated_nodes_and_k_beyond_one_component(solver):
    """Components of 5, 4 and 3 nodes plus 2 isolated ones: k = 9 needs every component's spectrum."""
    G = _blocks([5, 4, 3], seed=4, extra_isolated=2)
    N = G.shape[0]
    n_comp, labels = eigen.connected_components(G)
    assert n_comp == 5
    k = 9  # 4 zero eigenvalues, then 5 of the 4 + 3 + 2 non-zero ones
    vals, U = laplacian_eigenvectors(G, k, solver=solver)
    _assert_valid_basis(U, N, k)
    all_vals = sla.eigh(laplacian(G).toarray(), eigvals_only=True)
    np.testing.assert_allclose(vals, all_vals[1 : k + 1], atol=1e-8)
    np.testing.assert_array_equal(vals[:4], 0.0)
    L = laplacian(G)
    assert np.abs(L @ U - U * vals).max() < 1e-8
    # every eigenvector with a non-zero eigenvalue vanishes on the isolated nodes
    isolated = np.flatnonzero(np.asarray(abs(G).sum(axis=1)).ravel() == 0)
    assert isolated.size == 2
    np.testing.assert_allclose(U[np.ix_(isolated, np.arange(4, k))], 0.0, atol=1e-12)


def test_all_eigenvectors_of_a_small_disconnected_graph():
    G = _blocks([5, 4, 3], seed=5, extra_isolated=2)
    N = G.shape[0]
    vals, U = laplacian_eigenvectors(G, N - 1)
    all_vals = sla.eigh(laplacian(G).toarray(), eigvals_only=True)
    np.testing.assert_allclose(vals, all_vals[1:], atol=1e-8)
    np.testing.assert_allclose(U.T @ U, np.eye(N - 1), atol=1e-8)


def test_only_isolated_nodes_and_one_edge():
    G = graph_from_pairs(np.array([0]), np.array([1]), 4)
    vals, U = laplacian_eigenvectors(G, 3)
    np.testing.assert_allclose(vals, [0.0, 0.0, 2.0], atol=1e-12)
    _assert_valid_basis(U, 4, 3)


@pytest.mark.parametrize("solver", ALL)
def test_k_too_large_is_an_error(solver):
    G = _blocks([6, 4], seed=6)
    with pytest.raises(ValueError, match="N − 1"):
        laplacian_eigenvectors(G, G.shape[0], solver=solver)
    with pytest.raises(ValueError):
        laplacian_eigenvectors(G, 0, solver=solver)


def test_unknown_solver_is_an_error():
    with pytest.raises(ValueError, match="unknown eigensolver"):
        laplacian_eigenvectors(_blocks([6]), 2, solver="magic")


def test_hop_dimension_separates_manifolds_from_feature_graphs():
    from sklearn.datasets import make_swiss_roll

    rng = np.random.default_rng(0)
    n = 4000
    centers = 0.7 * rng.standard_normal((24, 64))
    feats = centers[rng.integers(24, size=n)] + rng.standard_normal((n, 64))
    roll, _ = make_swiss_roll(n, noise=0.05, random_state=0)
    d_feat, _ = eigen.hop_dimension(laplacian(knn_graph(feats, 10)))
    d_roll, _ = eigen.hop_dimension(laplacian(knn_graph(roll, 10)))
    assert d_roll < eigen.SHIFT_INVERT_MAX_DIM < d_feat
    assert 1.8 < d_roll < 2.0  # the Swiss roll is a 2-D manifold (measured 1.91)
    assert d_feat > 4


def test_auto_choice_by_graph(monkeypatch):
    """Past the dense size, ``"auto"`` picks Lanczos on a feature graph and shift-invert on a manifold graph."""
    from sklearn.datasets import make_swiss_roll

    rng = np.random.default_rng(0)
    n = 2000
    centers = 0.7 * rng.standard_normal((24, 64))
    feats = centers[rng.integers(24, size=n)] + rng.standard_normal((n, 64))
    G_feat = knn_graph(feats, 10)
    G_roll = knn_graph(make_swiss_roll(n, noise=0.05, random_state=0)[0], 10)
    assert eigen.connected_components(G_feat)[0] == eigen.connected_components(G_roll)[0] == 1
    monkeypatch.setattr(eigen, "DENSE_MAX_NODES", 2 * n)
    assert eigen.choose_solver(G_feat, 8) == "dense"
    monkeypatch.setattr(eigen, "DENSE_MAX_NODES", 500)
    assert eigen.choose_solver(G_feat, 8) == "lanczos"
    assert eigen.choose_solver(G_roll, 8) == "shift_invert"
    assert eigen.choose_solver(G_roll, n // 3) == "dense"  # a third of the spectrum: dense
    # ... and the answers agree with the other iterative solver's.
    for G, other in ((G_feat, "shift_invert"), (G_roll, "lanczos")):
        vals, U = laplacian_eigenvectors(G, 8)
        ref_vals, ref_U = laplacian_eigenvectors(G, 8, solver=other)
        np.testing.assert_allclose(vals, ref_vals, atol=1e-8)
        assert principal_angle_cosines(U, ref_U).min() > 0.999999


def test_choose_solver_without_an_eigensolver():
    G = _blocks([6, 5, 4, 3], seed=7)
    assert eigen.choose_solver(G, 3) == "none"  # three centred indicators
    assert eigen.choose_solver(G, 4) == "dense"


def test_many_components():
    """2 000 components (pairs, triangles and isolated nodes): indicators first, then the smallest λ's."""
    rng = np.random.default_rng(8)
    pairs = np.arange(0, 1200, 2)
    tri = 1200 + 3 * np.arange(400)
    i = np.concatenate([pairs, tri, tri + 1, tri])
    j = np.concatenate([pairs + 1, tri + 1, tri + 2, tri + 2])
    n = 1200 + 1200 + 300  # 300 isolated nodes
    w = rng.uniform(0.5, 2.0, i.size)
    G = graph_from_pairs(i, j, n, weights=w)
    n_comp = eigen.connected_components(G)[0]
    assert n_comp == 600 + 400 + 300
    k = n_comp + 20
    vals, U = laplacian_eigenvectors(G, k)
    assert np.all(vals[: n_comp - 1] == 0) and np.all(vals[n_comp - 1 :] > 0)
    all_vals = np.sort(np.concatenate([2 * w[: 600], *[
        sla.eigh(laplacian(G[np.ix_(t, t)]).toarray(), eigvals_only=True)[1:]
        for t in (np.arange(s, s + 3) for s in tri)
    ]]))
    np.testing.assert_allclose(vals[n_comp - 1 :], all_vals[:21], rtol=1e-10)
    np.testing.assert_allclose(U.T @ U, np.eye(k), atol=1e-8)
    L = laplacian(G)
    assert np.abs(L @ U - U * vals).max() < 1e-8


def test_agrees_with_sklearn_spectral_embedding():
    from sklearn.manifold import spectral_embedding

    rng = np.random.default_rng(9)
    centers = 0.7 * rng.standard_normal((10, 32))
    X = centers[rng.integers(10, size=1500)] + rng.standard_normal((1500, 32))
    G = knn_graph(X, 10)
    assert eigen.connected_components(G)[0] == 1
    K = 8
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = spectral_embedding(G, n_components=K + 1, norm_laplacian=False, drop_first=True, random_state=0)
    for solver in ("auto", "lanczos", "shift_invert"):
        Z = laplacian_eigenmaps(G, K, solver=solver)
        assert principal_angle_cosines(Z, ref).min() > 0.999


def _feature_graph(n, seed=0):
    rng = np.random.default_rng(seed)
    centers = 0.7 * rng.standard_normal((24, 64))
    return knn_graph(centers[rng.integers(24, size=n)] + rng.standard_normal((n, 64)), 10)


@pytest.mark.parametrize("fallback_dim, expected", [(100.0, "shift_invert"), (0.0, "lobpcg")])
def test_auto_falls_back_when_lanczos_does_not_converge(monkeypatch, fallback_dim, expected):
    G = _feature_graph(800, seed=10)
    ref_vals, ref_U = laplacian_eigenvectors(G, 6, solver="dense")
    monkeypatch.setattr(eigen, "DENSE_MAX_NODES", 100)
    monkeypatch.setattr(eigen, "FALLBACK_SHIFT_INVERT_MAX_DIM", fallback_dim)
    used = []

    def no_convergence(*args, **kwargs):
        raise eigen.spla.ArpackNoConvergence("budget exhausted", np.zeros(0), np.zeros((800, 0)))

    for name in ("_shift_invert", "_lobpcg"):
        original = getattr(eigen, name)
        monkeypatch.setattr(eigen, name, lambda *a, _f=original, _n=name, **k: (used.append(_n), _f(*a, **k))[1])
    monkeypatch.setattr(eigen, "_lanczos", no_convergence)
    vals, U = laplacian_eigenvectors(G, 6)
    assert used == ["_" + expected]
    np.testing.assert_allclose(vals, ref_vals, atol=1e-8)
    assert principal_angle_cosines(U, ref_U).min() > 0.99999


def test_auto_never_builds_a_dense_matrix_past_the_dense_size(monkeypatch):
    from sklearn.datasets import make_swiss_roll

    original = eigen._dense

    def guarded(Lc, m):
        assert Lc.shape[0] <= eigen.DENSE_MAX_NODES, "dense eigh on a large component"
        return original(Lc, m)

    monkeypatch.setattr(eigen, "_dense", guarded)
    G_roll = knn_graph(make_swiss_roll(3000, noise=0.05, random_state=1)[0], 10)
    blocks = sp.block_diag([_feature_graph(1500, seed=11), G_roll, _blocks([50, 30], seed=12)], format="csr")
    vals, U = laplacian_eigenvectors(blocks, 10)
    _assert_valid_basis(U, blocks.shape[0], 10)
    np.testing.assert_array_equal(vals[:3], 0.0)
    L = laplacian(blocks)
    assert np.abs(L @ U - U * vals).max() < 1e-6
