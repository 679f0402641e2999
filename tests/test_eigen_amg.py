"""The AMG-preconditioned LOBPCG eigensolver (``solver="amg"``) and the ``"auto"`` rule that picks it.

Timings live in ``kspectral/spectral/eigen.py``'s docstring; these tests check the answers at small sizes.
"""

import warnings

import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sp

pytest.importorskip("pyamg")

from kspectral.spectral import graph_from_pairs, knn_graph, laplacian, laplacian_eigenvectors  # noqa: E402
from kspectral.spectral import principal_angle_cosines  # noqa: E402
from kspectral.spectral import eigen  # noqa: E402


def _features64_graph(n, seed=0, k=10):
    """kNN graph of the benchmark's ``features64`` family (64-D mixture of 24 Gaussians): a small-world graph."""
    rng = np.random.default_rng(seed)
    centers = 0.7 * rng.standard_normal((24, 64))
    X = centers[rng.integers(24, size=n)] + rng.standard_normal((n, 64))
    return knn_graph(X, k)


def _residuals(G, vals, U):
    L = laplacian(G)
    return np.linalg.norm(L @ U - U * vals, axis=0)


def _assert_valid_basis(U, N, k):
    assert U.shape == (N, k)
    np.testing.assert_allclose(U.T @ U, np.eye(k), atol=1e-8)
    np.testing.assert_allclose(U.sum(axis=0), 0.0, atol=1e-8)


def test_amg_matches_dense_eigh():
    G = _features64_graph(1500, seed=1)
    assert eigen.connected_components(G)[0] == 1
    k = 8
    all_vals, all_vecs = sla.eigh(laplacian(G).toarray())
    ref_vals, ref_vecs = all_vals[1 : k + 1], all_vecs[:, 1 : k + 1]
    assert all_vals[k + 1] - all_vals[k] > 1e-3  # the 8-dimensional subspace is well defined
    vals, U = laplacian_eigenvectors(G, k, solver="amg", tol=1e-10)
    _assert_valid_basis(U, G.shape[0], k)
    np.testing.assert_allclose(vals, ref_vals, atol=1e-8, rtol=0)
    assert principal_angle_cosines(U, ref_vecs).min() > 0.999999


def test_amg_matches_lanczos_with_the_same_tolerance():
    """Same subspace as Lanczos, residuals within LOBPCG's stopping test ``tol · 2·d_max`` (Lanczos' meaning)."""
    G = _features64_graph(12_000, seed=2)
    k, tol = 8, 1e-8
    vals_l, U_l = laplacian_eigenvectors(G, k, solver="lanczos", tol=tol)
    vals_a, U_a = laplacian_eigenvectors(G, k, solver="amg", tol=tol)
    _assert_valid_basis(U_a, G.shape[0], k)
    np.testing.assert_allclose(vals_a, vals_l, rtol=1e-6)
    assert principal_angle_cosines(U_a, U_l).min() > 0.99999
    d_max = laplacian(G).diagonal().max()
    res_a = _residuals(G, vals_a, U_a)
    assert res_a.max() <= 2 * tol * 2 * d_max  # 2×: _finish re-orthonormalises after LOBPCG's own test
    assert res_a.max() < 1e-3 * vals_a.min()  # small against the eigenvalues themselves, too


def test_amg_is_deterministic_and_leaves_the_global_rng_alone():
    G = _features64_graph(3000, seed=3)
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    vals1, U1 = laplacian_eigenvectors(G, 6, solver="amg", seed=5)
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # pyamg's draws were seeded and undone
    np.random.seed(999)  # a different global state must not change the answer
    vals2, U2 = laplacian_eigenvectors(G, 6, solver="amg", seed=5)
    np.testing.assert_array_equal(vals1, vals2)
    np.testing.assert_array_equal(U1, U2)


def _blocks(sizes, seed=0, extra_isolated=0):
    """Disjoint random connected components (a path plus random chords, random weights), interleaved."""
    rng = np.random.default_rng(seed)
    rows, cols, offset = [], [], 0
    for s in sizes:
        nodes = offset + rng.permutation(s)
        rows += list(nodes[:-1])
        cols += list(nodes[1:])
        for _ in range(2 * s):
            a, b = rng.choice(nodes, 2, replace=False)
            rows.append(a)
            cols.append(b)
        offset += s
    n = offset + extra_isolated
    i, j = np.array(rows), np.array(cols)
    G = graph_from_pairs(i, j, n, weights=rng.uniform(0.5, 2.0, i.size))
    perm = rng.permutation(n)
    return sp.csr_matrix(G[perm][:, perm])


def test_amg_on_a_disconnected_graph():
    """Indicators first, then the components' spectra (each large component solved by AMG), as dense eigh."""
    sizes = [800, 500, 300, 12]
    G = _blocks(sizes, seed=4, extra_isolated=3)
    N = G.shape[0]
    n_comp, labels = eigen.connected_components(G)
    assert n_comp == len(sizes) + 3
    k = 12  # 6 zero eigenvalues, then 6 non-zero ones drawn from several components
    vals, U = laplacian_eigenvectors(G, k, solver="amg", tol=1e-10)
    _assert_valid_basis(U, N, k)
    all_vals, all_vecs = sla.eigh(laplacian(G).toarray())
    np.testing.assert_allclose(vals, all_vals[1 : k + 1], atol=1e-8)
    np.testing.assert_array_equal(vals[: n_comp - 1], 0.0)
    assert _residuals(G, vals, U).max() < 1e-6
    nonzero = slice(n_comp - 1, k)
    assert principal_angle_cosines(U[:, nonzero], all_vecs[:, n_comp : k + 1]).min() > 0.99999
    taken = {int(c) for c in labels[np.abs(U[:, nonzero]).max(axis=1) > 1e-8]}
    assert len(taken) >= 2  # the non-zero part really does combine several components


def test_auto_picks_amg_only_past_the_threshold(monkeypatch):
    from sklearn.datasets import make_swiss_roll

    n = 2000
    G_feat = _features64_graph(n, seed=5)
    G_roll = knn_graph(make_swiss_roll(n, noise=0.05, random_state=0)[0], 10)
    monkeypatch.setattr(eigen, "DENSE_MAX_NODES", 500)
    assert eigen.AMG_MIN_NODES > 100_000  # the default keeps every graph up to 100 000 nodes as it was
    assert eigen.choose_solver(G_feat, 8) == "lanczos"  # below the threshold
    monkeypatch.setattr(eigen, "AMG_MIN_NODES", n + 1)
    assert eigen.choose_solver(G_feat, 8) == "lanczos"
    monkeypatch.setattr(eigen, "AMG_MIN_NODES", n)
    assert eigen.choose_solver(G_feat, 8) == "amg"
    assert eigen.choose_solver(G_roll, 8) == "shift_invert"  # manifolds keep shift-invert at any size
    vals, U = laplacian_eigenvectors(G_feat, 8)  # "auto", now AMG
    ref_vals, ref_U = laplacian_eigenvectors(G_feat, 8, solver="lanczos")
    np.testing.assert_allclose(vals, ref_vals, rtol=1e-6)
    assert principal_angle_cosines(U, ref_U).min() > 0.99999
    monkeypatch.setattr(eigen, "_pyamg_available", lambda: False)  # pyamg not installed: Lanczos as before
    assert eigen.choose_solver(G_feat, 8) == "lanczos"


def test_auto_falls_back_to_lanczos_when_amg_does_not_converge(monkeypatch):
    G = _features64_graph(2000, seed=6)
    monkeypatch.setattr(eigen, "DENSE_MAX_NODES", 500)
    monkeypatch.setattr(eigen, "AMG_MIN_NODES", 1000)
    monkeypatch.setattr(eigen, "AMG_MAXITER", 2)
    calls = []
    lanczos = eigen._lanczos
    monkeypatch.setattr(eigen, "_lanczos", lambda *a: calls.append(1) or lanczos(*a))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the fallback is silent
        vals, U = laplacian_eigenvectors(G, 8)
    assert calls == [1]
    ref_vals, ref_U = laplacian_eigenvectors(G, 8, solver="lanczos", tol=1e-10)
    np.testing.assert_allclose(vals, ref_vals, atol=1e-8)
    assert principal_angle_cosines(U, ref_U).min() > 0.999999
    with pytest.warns(RuntimeWarning, match="did not reach"):  # asked for explicitly: a warning
        laplacian_eigenvectors(G, 8, solver="amg")


def test_explicit_amg_without_pyamg_names_the_fix(monkeypatch):
    monkeypatch.setattr(eigen, "_pyamg_available", lambda: False)
    with pytest.raises(ImportError, match=r"kspectral\[scale\]"):
        laplacian_eigenvectors(_features64_graph(500, seed=7), 4, solver="amg")
