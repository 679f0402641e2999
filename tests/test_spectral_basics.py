"""Graphs, Laplacians, Laplacian eigenmaps and linear VICReg: theory.md §6 properties 1-5 and input checks."""

import numpy as np
import pytest
import scipy.sparse as sp

from kspectral.spectral import (
    LaplacianEigenmaps,
    LinearVICReg,
    connected_components,
    dirichlet_energy,
    graph_from_pairs,
    graph_report,
    knn_graph,
    label_graph,
    laplacian,
    laplacian_eigenmaps,
    linear_vicreg,
    pair_graph,
    principal_angle_cosines,
    rewire,
    validate_graph,
)


def random_graph(rng, n, density=0.3):
    A = rng.random((n, n)) * (rng.random((n, n)) < density)
    G = np.triu(A, 1)
    return G + G.T


# ---------------------------------------------------------------- §6 property 1-4
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_dirichlet_identity(rng, dtype, tol):
    G = random_graph(rng, 30).astype(dtype)
    Z = rng.normal(size=(30, 4)).astype(dtype)
    lhs = sum(G[i, j] * np.sum((Z[i] - Z[j]) ** 2) for i in range(30) for j in range(30))
    assert lhs == pytest.approx(2 * dirichlet_energy(Z, G), rel=tol)
    L = laplacian(G).toarray()
    assert np.trace(Z.T.astype(np.float64) @ L @ Z) == pytest.approx(dirichlet_energy(Z, G), rel=1e-10)


def test_pair_graph_mse_is_dirichlet_energy(rng):
    n, K = 7, 3
    Za, Zb = rng.normal(size=(n, K)), rng.normal(size=(n, K))
    Z = np.vstack([Za, Zb])
    assert np.mean((Za - Zb) ** 2) == pytest.approx(dirichlet_energy(Z, pair_graph(n)) / (n * K), rel=1e-12)


def test_shift_invariance(rng):
    G = random_graph(rng, 20)
    Z = rng.normal(size=(20, 3))
    b = rng.normal(size=3)
    assert dirichlet_energy(Z + b, G) == pytest.approx(dirichlet_energy(Z, G), rel=1e-10)
    np.testing.assert_allclose(np.cov((Z + b).T), np.cov(Z.T), atol=1e-12)


def test_pair_graph_spectrum():
    vals = np.linalg.eigvalsh(laplacian(pair_graph(4)).toarray())
    np.testing.assert_allclose(vals, [0, 0, 0, 0, 2, 2, 2, 2], atol=1e-12)


def test_pair_graph_many_views_layout():
    G = pair_graph(3, views=3).toarray()
    assert G.shape == (9, 9)
    # row v*n + i connects to the same sample i in the other views
    assert G[1, 4] == 1 and G[1, 7] == 1 and G[4, 7] == 1 and G[1, 2] == 0
    assert G.sum(axis=1).tolist() == [2.0] * 9


def test_label_graph_spectrum():
    y = np.repeat([0, 1, 2], [6, 5, 7])
    vals = np.sort(np.linalg.eigvalsh(laplacian(label_graph(y)).toarray()))
    expected = np.sort(np.r_[np.zeros(3), np.full(4, 5.0), np.full(5, 6.0), np.full(6, 7.0)])
    np.testing.assert_allclose(vals, expected, atol=1e-10)


def test_zero_eigenvalues_count_components(rng):
    blocks = [random_graph(rng, n, 0.8) for n in (5, 6, 7)]
    G = sp.block_diag(blocks).tocsr()
    n_comp, _ = connected_components(G)
    vals = np.linalg.eigvalsh(laplacian(G).toarray())
    assert n_comp == 3
    assert int(np.sum(vals < 1e-9)) == 3


@pytest.mark.parametrize("kind", ["symmetric", "random_walk"])
def test_normalized_laplacians_keep_component_count(rng, kind):
    G = sp.block_diag([random_graph(rng, 6, 0.9), random_graph(rng, 5, 0.9), sp.csr_matrix((1, 1))]).tocsr()
    vals = np.linalg.eigvals(laplacian(G, kind).toarray()).real
    assert int(np.sum(np.abs(vals) < 1e-9)) == 3  # two components + one isolated node
    assert vals.max() <= 2 + 1e-9


# ---------------------------------------------------------------- §6 property 5: LE optimum
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-8), (np.float32, 1e-4)])
def test_laplacian_eigenmaps_optimality(rng, dtype, tol):
    N, K = 40, 3
    G = random_graph(rng, N, 0.2).astype(dtype)
    Z, vals = laplacian_eigenmaps(G, K, return_eigenvalues=True)
    H = np.eye(N) - 1.0 / N
    np.testing.assert_allclose(Z.T @ H @ Z / N, np.eye(K), atol=tol)
    L = laplacian(G).toarray()
    full = np.linalg.eigvalsh(L)
    np.testing.assert_allclose(vals, full[1 : K + 1], rtol=tol, atol=tol)
    optimum = np.trace(Z.T @ L @ Z)
    assert optimum == pytest.approx(N * full[1 : K + 1].sum(), rel=tol)
    for _ in range(20):  # Ky Fan: no feasible point does better
        Q, _ = np.linalg.qr(H @ rng.normal(size=(N, K)))
        Zr = np.sqrt(N) * Q
        np.testing.assert_allclose(Zr.T @ H @ Zr / N, np.eye(K), atol=1e-8)
        assert np.trace(Zr.T @ L @ Zr) >= optimum - 1e-8


def test_laplacian_eigenmaps_rotation_invariant(rng):
    G = random_graph(rng, 25, 0.3)
    Z = laplacian_eigenmaps(G, 4)
    R, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    assert dirichlet_energy(Z @ R, G) == pytest.approx(dirichlet_energy(Z, G), rel=1e-10)


def test_laplacian_eigenmaps_label_graph_gives_class_indicators():
    y = np.repeat([0, 1, 2, 3], [5, 6, 7, 8])
    Z = laplacian_eigenmaps(label_graph(y), 3)
    for c in range(4):
        assert np.all(Z[y == c].std(axis=0) < 1e-8)
    # the class means are distinct, so a linear probe is perfect on the training set
    means = np.array([Z[y == c].mean(axis=0) for c in range(4)])
    assert np.min(np.linalg.norm(means[:, None] - means[None], axis=-1) + np.eye(4) * 1e9) > 0.1


def test_laplacian_eigenmaps_matches_sklearn(digits_data):
    from sklearn.manifold import spectral_embedding

    G = knn_graph(digits_data.flat("train"), 10)
    Z = laplacian_eigenmaps(G, 6)
    E = spectral_embedding(G, n_components=7, norm_laplacian=False, drop_first=False, random_state=0)
    assert principal_angle_cosines(Z, E[:, 1:]).min() > 0.999


def test_laplacian_eigenmaps_bad_dim():
    G = pair_graph(3)
    with pytest.raises(ValueError, match="N − 1"):
        laplacian_eigenmaps(G, 6)
    with pytest.raises(ValueError, match="at least 1"):
        laplacian_eigenmaps(G, 0)


def test_laplacian_eigenmaps_estimator(rng):
    G = random_graph(rng, 30, 0.3)
    est = LaplacianEigenmaps(n_components=2, graph="precomputed").fit(G)
    assert est.embedding_.shape == (30, 2)
    assert est.objective_ == pytest.approx(30 * est.eigenvalues_.sum())
    assert est.get_params()["n_components"] == 2


# ---------------------------------------------------------------- linear VICReg (theory.md §4)
def test_linear_vicreg_generalized_eigenproblem(rng):
    X = rng.normal(size=(120, 6)) @ rng.normal(size=(6, 6))
    G = knn_graph(X, 6)
    sol = linear_vicreg(X, G, 3)
    N = len(X)
    Xc = X - X.mean(0)
    sigma = Xc.T @ Xc / N
    M = X.T @ laplacian(G).toarray() @ X / N
    W = sol.weights
    np.testing.assert_allclose(W.T @ sigma @ W, np.eye(3), atol=1e-9)
    np.testing.assert_allclose(M @ W, sigma @ W * sol.eigenvalues, atol=1e-8)
    from scipy.linalg import eigh

    assert sol.eigenvalues == pytest.approx(eigh(M, sigma, eigvals_only=True)[:3], rel=1e-8)
    assert sol.value == pytest.approx(np.trace(W.T @ M @ W), rel=1e-9)
    Z = sol.transform(X)
    np.testing.assert_allclose(Z.mean(0), 0, atol=1e-9)


def test_linear_vicreg_handles_constant_features(digits_data):
    X = digits_data.flat("train")  # several pixels are always 0: Σ_X is singular
    sol = linear_vicreg(X, label_graph(digits_data.y_train), 9)
    assert sol.rank == 9 and np.all(np.isfinite(sol.weights))
    full = linear_vicreg(X, label_graph(digits_data.y_train), 64)
    assert full.rank < 64 and np.all(full.weights[:, full.rank :] == 0)


def test_linear_vicreg_quadratic_value_and_rank(rng):
    X = rng.normal(size=(80, 5))
    G = knn_graph(X, 5)
    hard = linear_vicreg(X, G, 5)
    for gamma in (0.01, 0.5, 5.0):
        q = linear_vicreg(X, G, 5, variant="quadratic", invariance_weight=gamma)
        expected = 5 - np.sum(np.clip(1 - gamma * hard.eigenvalues / 2, 0, None) ** 2)
        assert q.value == pytest.approx(expected, rel=1e-9)
        assert q.rank == int(np.sum(hard.eigenvalues < 2 / gamma))


def test_linear_vicreg_estimator_in_pipeline(digits_data):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    pipe = make_pipeline(LinearVICReg(n_components=9, graph="labels"), LogisticRegression(max_iter=2000))
    pipe.fit(digits_data.flat("train"), digits_data.y_train)
    assert pipe.score(digits_data.flat("test"), digits_data.y_test) > 0.9


# ---------------------------------------------------------------- graphs: constructors and validation
def test_knn_graph_is_symmetric_and_mutual_is_subset(rng):
    X = rng.normal(size=(60, 4))
    G = knn_graph(X, 5)
    M = knn_graph(X, 5, mutual=True)
    validate_graph(G)
    assert (G != G.T).nnz == 0 and G.diagonal().sum() == 0
    assert np.all(np.asarray(G.sum(1)).ravel() >= 5)
    assert (M.multiply(G) != M).nnz == 0 and M.nnz < G.nnz
    from sklearn.neighbors import NearestNeighbors

    idx = NearestNeighbors(n_neighbors=6).fit(X).kneighbors(X, return_distance=False)[:, 1:]
    for i in range(60):
        assert set(G[i].indices) >= set(idx[i])


def test_knn_graph_errors(rng):
    X = rng.normal(size=(5, 2))
    with pytest.raises(ValueError, match="smaller than the number of samples"):
        knn_graph(X, 5)
    with pytest.raises(ValueError, match="NaN"):
        knn_graph(np.full((5, 2), np.nan), 2)
    with pytest.raises(ValueError, match="2-D"):
        knn_graph(np.zeros(5), 2)


def test_graph_from_pairs_and_errors():
    G = graph_from_pairs(np.array([0, 1, 1]), np.array([1, 2, 2]), 4, weights=[1.0, 0.5, 0.5])
    assert G[0, 1] == 1 and G[1, 0] == 1 and G[2, 1] == 1.0
    with pytest.raises(ValueError, match="itself"):
        graph_from_pairs(np.array([0]), np.array([0]), 3)
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        graph_from_pairs(np.array([0]), np.array([3]), 3)


@pytest.mark.parametrize(
    "G,message",
    [
        (np.array([[0, 1], [0, 0]]), "not symmetric"),
        (np.array([[0, -1], [-1, 0]]), "negative"),
        (np.array([[1, 1], [1, 0]]), "self-loops"),
        (np.zeros((3, 3)), "no edges"),
        (np.zeros((2, 3)), "square"),
        (np.array([[0, np.nan], [np.nan, 0]]), "NaN"),
    ],
)
def test_validate_graph_errors(G, message):
    with pytest.raises(ValueError, match=message):
        validate_graph(G)


def test_validate_graph_wrong_size():
    with pytest.raises(ValueError, match="must match"):
        validate_graph(pair_graph(2), n=5)


def test_graph_report_components():
    G = sp.block_diag([pair_graph(2), sp.csr_matrix((2, 2))]).tocsr()
    report = graph_report(G)
    assert (report.n_nodes, report.n_edges, report.n_components, report.n_isolated) == (6, 2, 4, 2)
    assert "4 connected components" in str(report)


def test_rewire_preserves_edges_and_misaligns(rng):
    y = np.repeat(np.arange(5), 20)
    G = label_graph(y)
    assert rewire(G, 0.0, seed=0).nnz == G.nnz and (rewire(G, 0.0, seed=0) != G).nnz == 0
    R = rewire(G, 0.5, seed=0)
    validate_graph(R)
    assert R.nnz == G.nnz
    same = y[R.tocoo().row] == y[R.tocoo().col]
    assert 0.4 < 1 - same.mean() < 0.6  # about half the edges now cross classes
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        rewire(G, 1.5)
