"""scikit-learn estimators of the closed forms: agreement with the functions, pipelines, graph helpers."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.metrics import adjusted_rand_score

from kspectral.spectral import (
    LPP,
    BarlowTwinsEmbedding,
    GraphIsomap,
    KernelLPP,
    LaplacianEigenmaps,
    LinearBarlowTwins,
    LinearSpectralClustering,
    LinearSpectralContrastive,
    LinearVICReg,
    SimplexEmbedding,
    SpectralClustering,
    SpectralContrastiveEmbedding,
    cca,
    classical_mds,
    graph_geodesic_distances,
    is_clique_union,
    is_pair_graph,
    knn_graph,
    label_graph,
    linear_spectral_contrastive,
    lpp,
    pair_graph,
    principal_angle_cosines,
    quadratic_vicreg,
    spectral_contrastive_embedding,
)


@pytest.fixture
def blobs(rng):
    y = np.repeat(np.arange(4), 25)
    centers = rng.normal(size=(4, 6)) * 6
    return centers[y] + rng.normal(size=(100, 6)), y


def test_nonparametric_estimators_match_functions(blobs):
    X, y = blobs
    G = knn_graph(X, 8)
    est = SpectralContrastiveEmbedding(3, graph="precomputed").fit(G)
    np.testing.assert_allclose(np.abs(est.embedding_), np.abs(spectral_contrastive_embedding(G, 3).embedding),
                               atol=1e-8)
    q = LaplacianEigenmaps(3, graph="knn:8", variant="quadratic", invariance=0.5).fit(X)
    ref = quadratic_vicreg(G, 3, invariance=0.5)
    assert q.objective_ == pytest.approx(ref.value) and q.rank_ == ref.rank
    h = LaplacianEigenmaps(3, graph="precomputed", variant="hinge", invariance=0.1).fit(G)
    assert np.all(h.scales_ > 0) and h.embedding_.shape == (100, 3)
    with pytest.raises(ValueError, match="unknown variant"):
        LaplacianEigenmaps(2, graph="precomputed", variant="soft").fit(G)


def test_estimators_clone_and_params():
    for est in (LaplacianEigenmaps(4), LinearVICReg(3, ridge=0.1), KernelLPP(2, kernel="poly"),
                SpectralClustering(5), LinearBarlowTwins(2)):
        params = est.get_params()
        assert clone(est).get_params() == params


def test_linear_estimators_match_functions_and_transform_new_data(blobs):
    X, y = blobs
    G = knn_graph(X, 8)
    for est, fn in ((LPP(3), lambda: lpp(X, G, 3)),
                    (LinearSpectralContrastive(3), lambda: linear_spectral_contrastive(X, G, 3))):
        est.fit(X, graph=G)
        sol = fn()
        np.testing.assert_allclose(est.transform(X[:5]), sol.transform(X[:5]), atol=1e-8)
        assert est.transform(X[:5] + 1.0).shape == (5, 3)
    k = KernelLPP(2, graph="knn:8").fit(X)
    assert k.transform(X[:7]).shape == (7, 2) and np.isfinite(k.objective_)


def test_linear_barlow_twins_is_cca_on_the_pair_graph(rng):
    latent = rng.normal(size=(200, 2))
    Xa = latent @ rng.normal(size=(2, 5)) + 0.3 * rng.normal(size=(200, 5))
    Xb = latent @ rng.normal(size=(2, 5)) + 0.3 * rng.normal(size=(200, 5))
    X = np.vstack([Xa, Xb])
    est = LinearBarlowTwins(2).fit(X, graph=pair_graph(200))
    assert est.method_ == "cca"
    np.testing.assert_allclose(est.components_, cca(Xa, Xb, 2).weights, atol=1e-10)
    other = LinearBarlowTwins(2).fit(X, graph=knn_graph(X, 5))
    assert other.method_ == "graph_cca" and np.all(other.eigenvalues_ <= 1 + 1e-9)


def test_is_pair_graph_and_clique_union():
    assert is_pair_graph(pair_graph(5))
    assert not is_pair_graph(pair_graph(3, views=3))
    assert not is_pair_graph(label_graph([0, 0, 1, 1, 1, 2]))
    assert is_clique_union(label_graph([0, 0, 1, 1, 1, 2, 2])) == (True, 3)
    assert is_clique_union(pair_graph(4)) == (True, 4)
    path = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], float))
    assert is_clique_union(path) == (False, 1)


def test_simplex_estimator_on_label_graph():
    y = np.repeat(np.arange(3), 6)
    est = SimplexEmbedding(4).fit(label_graph(y))
    Z = est.embedding_
    cos = Z @ Z.T
    assert np.allclose(cos[y[:, None] == y[None]], 1.0)
    assert np.allclose(cos[y[:, None] != y[None]], -0.5)  # −1/(C−1)
    assert est.rank_ == 2


def test_barlow_twins_embedding_rank_follows_components():
    G = sp.block_diag([label_graph([0, 0, 0]), label_graph([0, 0]), label_graph([0, 0, 0, 0])]).tocsr()
    est = BarlowTwinsEmbedding(5, graph="precomputed").fit(G)
    assert est.rank_ == 2  # c − 1 = 2 < K


def test_graph_isomap_path_graph():
    n = 12
    A = sp.diags([np.ones(n - 1), np.ones(n - 1)], [1, -1]).tocsr()
    D = graph_geodesic_distances(A)
    assert D[0, n - 1] == n - 1
    est = GraphIsomap(1).fit(A)
    z = est.embedding_[:, 0]
    np.testing.assert_allclose(np.abs(z - z[0]), np.arange(n), atol=1e-8)  # a path unrolls onto a line
    np.testing.assert_allclose(est.embedding_, classical_mds(D, 1, precomputed="distances").embedding)
    with pytest.raises(ValueError, match="connected"):
        GraphIsomap(1).fit(pair_graph(3))


def test_spectral_clustering_agrees_with_sklearn(blobs):
    from sklearn.cluster import SpectralClustering as SkSpectralClustering

    X, y = blobs
    G = knn_graph(X, 8)
    ours = SpectralClustering(4, graph="precomputed").fit(G)
    sk = SkSpectralClustering(4, affinity="precomputed", random_state=0).fit(G.toarray())
    assert adjusted_rand_score(y, ours.labels_) == pytest.approx(1.0)
    assert adjusted_rand_score(sk.labels_, ours.labels_) == pytest.approx(1.0)
    lin = LinearSpectralClustering(4, graph="knn:8").fit(X)
    assert adjusted_rand_score(y, lin.predict(X)) > 0.95
    assert lin.transform(X).shape == (100, 3)


def test_graph_argument_errors(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="needs labels"):
        LinearVICReg(2, graph="labels").fit(X)
    with pytest.raises(ValueError, match="unknown graph spec"):
        LinearVICReg(2, graph="radius:3").fit(X)
    with pytest.raises(ValueError, match="is linear"):
        LinearVICReg(2, graph="precomputed").fit(X)
    with pytest.raises(ValueError, match="must match"):
        LinearVICReg(2).fit(X, graph=pair_graph(3))


def test_pipeline_with_label_graph_recovers_lda_like_projection(digits_data):
    from sklearn.pipeline import make_pipeline
    from sklearn.neighbors import KNeighborsClassifier

    pipe = make_pipeline(LinearVICReg(9, graph="labels"), KNeighborsClassifier(5))
    pipe.fit(digits_data.flat("train"), digits_data.y_train)
    assert pipe.score(digits_data.flat("test"), digits_data.y_test) > 0.93
    lda_like = pipe[0].transform(digits_data.flat("train"))
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    lda = LinearDiscriminantAnalysis(n_components=9).fit(digits_data.flat("train"), digits_data.y_train)
    # hard linear VICReg on the label graph spans LDA's discriminant subspace
    assert principal_angle_cosines(lda_like, lda.transform(digits_data.flat("train"))).min() > 0.99
