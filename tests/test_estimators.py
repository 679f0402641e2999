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
    q = LaplacianEigenmaps(3, graph="knn:8", variant="quadratic", invariance_weight=0.5).fit(X)
    ref = quadratic_vicreg(G, 3, invariance_weight=0.5)
    assert q.objective_ == pytest.approx(ref.value) and q.rank_ == ref.rank
    h = LaplacianEigenmaps(3, graph="precomputed", variant="hinge", invariance_weight=0.1).fit(G)
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


# ---------------------------------------------------------------------------------------------------------------
# The baseline table (kspectral.spectral.baselines)
# ---------------------------------------------------------------------------------------------------------------

from kspectral.spectral import baselines  # noqa: E402
from kspectral.spectral import estimators as estimators_module  # noqa: E402
from kspectral.spectral import nonparametric as nonparametric_module  # noqa: E402

CANONICAL = ("vicreg", "vicreg_exp", "vicreg_ctr", "barlow_twins", "tcr", "spectral_contrastive", "simclr", "dcl",
             "cissl", "dissl", "byol", "simsiam", "mocov2", "mocov3", "nnclr", "dino", "swav")
GLOBAL_FAMILY = ("simclr", "dcl", "vicreg_ctr", "cissl")


def test_table_holds_exactly_the_canonical_methods():
    assert set(baselines.BASELINES) == set(CANONICAL)
    assert baselines.BASELINES is __import__("kspectral.spectral", fromlist=["BASELINES"]).BASELINES


@pytest.fixture
def small_problem(rng):
    X = rng.normal(size=(40, 6)) + 4 * np.eye(6)[np.arange(40) % 3]
    return X, knn_graph(X, 6)


@pytest.mark.parametrize("method", CANONICAL)
@pytest.mark.parametrize("regime", ["nonparametric", "linear"])
def test_counterpart_names_the_estimator_spectral_baseline_returns(method, regime, small_problem):
    X, G = small_problem
    features = X if regime == "linear" else None
    est = baselines.spectral_baseline(method, G, 3, features=features)
    assert baselines.counterpart(method, regime, G, 3) == type(est).__name__
    assert baselines.counterpart(method, regime) == type(est).__name__  # a kNN graph is the general case
    Z = est.embedding_ if features is None else est.transform(X)
    assert Z.shape == (40, 3) and np.all(np.isfinite(Z))


@pytest.mark.parametrize("method", GLOBAL_FAMILY)
def test_clique_union_selects_the_simplex(method):
    G = label_graph(np.repeat([0, 1, 2], 5))
    est = baselines.spectral_baseline(method, G, 2)
    assert type(est).__name__ == baselines.counterpart(method, graph=G, dim=2) == "SimplexEmbedding"
    assert est.rank_ == 2
    assert baselines.status(method, graph=G, dim=2) == ("derived" if method == "simclr" else "analogy")
    # C = 3 cliques need dim ≥ 2; with dim = 1 the general case (ISOMAP) is chosen, which needs a connected G.
    assert baselines.counterpart(method, graph=G, dim=1) == "GraphIsomap"
    unequal = label_graph([0, 0, 1, 1, 1])
    assert baselines.counterpart(method, graph=unequal, dim=3) == "GraphIsomap"
    with pytest.raises(ValueError, match="pass dim"):
        baselines.counterpart(method, graph=G)


def test_statuses_per_method_and_regime(rng):
    general = {m: (baselines.status(m), baselines.status(m, "linear")) for m in CANONICAL}
    assert general == {
        "vicreg": ("derived", "derived"),
        "vicreg_exp": ("analogy", "analogy"),
        "vicreg_ctr": ("analogy", "analogy"),
        "barlow_twins": ("derived", "analogy"),
        "tcr": ("analogy", "analogy"),
        "spectral_contrastive": ("theorem", "derived"),
        "simclr": ("analogy", "analogy"),
        "dcl": ("analogy", "analogy"),
        "cissl": ("analogy", "analogy"),
        "dissl": ("analogy", "analogy"),
        "byol": ("analogy", "analogy"),
        "simsiam": ("analogy", "analogy"),
        "mocov2": ("analogy", "analogy"),
        "mocov3": ("analogy", "analogy"),
        "nnclr": ("analogy", "analogy"),
        "dino": ("analogy", "analogy"),
        "swav": ("analogy", "analogy"),
    }
    # Linear Barlow Twins is CCA, a derived optimum, only on the two-view pair graph.
    X = rng.normal(size=(60, 4))
    est = baselines.spectral_baseline("barlow_twins", pair_graph(30), 2, features=X)
    assert est.method_ == "cca" and baselines.status("barlow_twins", "linear", pair_graph(30)) == "derived"
    est = baselines.spectral_baseline("barlow_twins", knn_graph(X, 5), 2, features=X)
    assert est.method_ == "graph_cca" and baselines.status("barlow_twins", "linear", knn_graph(X, 5)) == "analogy"


def test_spectral_baseline_equals_the_estimator_fitted_directly(small_problem):
    X, G = small_problem
    est = baselines.spectral_baseline("vicreg", G, 3, features=X, variant="quadratic", invariance_weight=0.5)
    ref = LinearVICReg(3, variant="quadratic", invariance_weight=0.5).fit(X, graph=G)
    np.testing.assert_allclose(est.components_, ref.components_)
    assert est.objective_ == pytest.approx(ref.objective_)
    dissl = baselines.spectral_baseline("dissl", G, 2)
    assert dissl.n_clusters == 3 and dissl.embedding_.shape == (40, 2)  # K + 1 clusters, K coordinates
    assert adjusted_rand_score(np.arange(40) % 3, dissl.labels_) == pytest.approx(1.0)


def test_baseline_errors(small_problem):
    X, G = small_problem
    with pytest.raises(ValueError, match="unknown method 'w_mse'.*simclr.*vicreg"):
        baselines.spectral_baseline("w_mse", G, 2)
    with pytest.raises(ValueError, match="unknown method"):
        baselines.counterpart("simclr_abs")
    with pytest.raises(ValueError, match="unknown regime"):
        baselines.status("vicreg", "kernel")
    with pytest.raises(TypeError, match="LaplacianEigenmaps .*no option 'ridge'.*invariance_weight"):
        baselines.spectral_baseline("vicreg", G, 2, ridge=0.1)
    with pytest.raises(TypeError, match="no option 'n_components'"):
        baselines.spectral_baseline("vicreg", G, 2, n_components=5)
    with pytest.raises(ValueError, match="must match"):
        baselines.spectral_baseline("vicreg", G, 2, features=X[:10])
    with pytest.raises(TypeError, match="dim must be an integer"):
        baselines.spectral_baseline("vicreg", G, 2.0)


def test_markdown_table_is_generated_from_the_table():
    lines = baselines.markdown_table().strip().splitlines()
    assert lines[0] == "| method | nonparametric counterpart | linear counterpart | status |"
    assert len(lines) == 2 + len(CANONICAL)
    for line in lines[2:]:
        method, nonparametric, linear, status = [c.strip() for c in line.strip("|").split(" | ")]
        method = method.strip("`")
        assert f"`{baselines.counterpart(method)}`" in nonparametric
        assert f"`{baselines.counterpart(method, 'linear')}`" in linear
        assert baselines.status(method) in status and baselines.status(method, "linear") in status
    simclr = next(line for line in lines if line.startswith("| `simclr`"))
    assert "`SimplexEmbedding`" in simclr and "nonparametric: derived / analogy; linear: analogy" in simclr


# ---------------------------------------------------------------------------------------------------------------
# Graph helpers: one implementation each, in graphs.py
# ---------------------------------------------------------------------------------------------------------------


def test_graph_helpers_live_in_graphs_only():
    from kspectral.spectral import graphs

    for name in ("parse_graph_spec", "build_graph", "is_pair_graph", "is_clique_union", "graph_geodesic_distances"):
        assert getattr(graphs, name).__module__ == "kspectral.spectral.graphs"
        assert name not in vars(estimators_module) or getattr(estimators_module, name) is getattr(graphs, name)
    assert not hasattr(nonparametric_module, "_clique_structure")
    assert not hasattr(nonparametric_module, "_check_nonnegative")


def test_clique_structure_and_simplex_obstacle():
    from kspectral.spectral import clique_structure, simplex_obstacle

    s = clique_structure(label_graph([0, 0, 1, 1, 1, 2, 2]))
    assert (s.complete, s.n_components, s.sizes.tolist(), s.uniform_weights, s.equal_sizes) == (
        True, 3, [2, 3, 2], True, False)
    weighted = label_graph([0, 0, 0, 1, 1, 1]).multiply(1.0)
    weighted = sp.csr_matrix(weighted + 2 * sp.csr_matrix(([1.0, 1.0], ([0, 1], [1, 0])), shape=(6, 6)))
    assert clique_structure(weighted).complete and not clique_structure(weighted).uniform_weights
    assert simplex_obstacle(label_graph(np.repeat([0, 1, 2], 4)), 2) is None
    assert "C=3 cliques but dim=1" in simplex_obstacle(label_graph(np.repeat([0, 1, 2], 4)), 1)
    assert "uniform weights" in simplex_obstacle(weighted, 3)
    assert "unequal sizes" in simplex_obstacle(label_graph([0, 0, 1, 1, 1]), 3)
    path = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], float))
    assert "not a union of disjoint cliques" in simplex_obstacle(path, 3)
    with pytest.raises(ValueError, match="uniform weights"):  # simclr_simplex raises the same sentence
        SimplexEmbedding(3).fit(weighted)


def test_geodesic_distances_share_one_shortest_path_routine(rng):
    from sklearn.manifold import Isomap

    from kspectral.spectral import geodesic_distances

    X = rng.normal(size=(60, 3))
    ours = geodesic_distances(X, 6)
    np.testing.assert_allclose(ours, Isomap(n_neighbors=6, n_components=2).fit(X).dist_matrix_, atol=1e-12)
    W = sp.csr_matrix(np.array([[0, 2.0, 0], [2.0, 0, 4.0], [0, 4.0, 0]]))
    np.testing.assert_allclose(graph_geodesic_distances(W, "inverse_weights")[0], [0.0, 0.5, 0.75])
    np.testing.assert_allclose(graph_geodesic_distances(W)[0], [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="G has 3 connected components"):
        graph_geodesic_distances(pair_graph(3))
    with pytest.raises(ValueError, match="unknown lengths"):
        graph_geodesic_distances(W, "weights")


def test_parse_and_build_graph():
    from kspectral.spectral import build_graph, parse_graph_spec

    assert parse_graph_spec("knn") == ("knn", 10) and parse_graph_spec("knn:3") == ("knn", 3)
    assert parse_graph_spec("labels") == ("labels", None)
    for bad in ("knn:0", "knn:x", "radius:2", "labels:3"):
        with pytest.raises(ValueError, match="unknown graph spec"):
            parse_graph_spec(bad)
    X = np.arange(12.0).reshape(6, 2)
    assert (build_graph("labels", X, [0, 0, 0, 1, 1, 1]) != label_graph([0, 0, 0, 1, 1, 1])).nnz == 0
    with pytest.raises(ValueError, match="6 samples"):
        build_graph("labels", X, [0, 1])


# ---------------------------------------------------------------------------------------------------------------
# One name per hyperparameter; random_state
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [SpectralClustering, LinearSpectralClustering])
def test_clustering_estimators_take_random_state(cls, blobs):
    X, y = blobs
    G = knn_graph(X, 3)
    kind = "precomputed" if cls is SpectralClustering else "knn:3"

    def fit(random_state):
        est = cls(7, graph=kind, random_state=random_state)
        return est.fit(G) if cls is SpectralClustering else est.fit(X, graph=G)

    assert "random_state" in cls().get_params() and "seed" not in cls().get_params()
    first, again = fit(3), fit(3)
    np.testing.assert_array_equal(first.labels_, again.labels_)
    if cls is SpectralClustering:  # the seed reaches k-means and the eigensolver
        from kspectral.spectral import spectral_clustering

        np.testing.assert_array_equal(first.labels_, spectral_clustering(G, 7, seed=3).labels)
    else:
        from sklearn.cluster import KMeans

        np.testing.assert_array_equal(first.labels_, KMeans(7, n_init=10, random_state=3).fit(first.transform(X)).labels_)
    np.testing.assert_allclose(first.cluster_centers_, again.cluster_centers_)
    a, b = fit(np.random.RandomState(5)), fit(np.random.RandomState(5))
    np.testing.assert_array_equal(a.labels_, b.labels_)
    with pytest.raises(TypeError, match="seed"):
        cls(7, seed=0)


def test_old_hyperparameter_names_are_gone(small_problem):
    from kspectral.spectral import hinge_vicreg, linear_vicreg, vicreg_weights_to_gform

    X, G = small_problem
    for call in (lambda: quadratic_vicreg(G, 2, invariance=1.0),
                 lambda: linear_vicreg(X, G, 2, variant="quadratic", invariance=1.0),
                 lambda: LaplacianEigenmaps(2, invariance=1.0),
                 lambda: LinearVICReg(2, invariance=1.0)):
        with pytest.raises(TypeError, match="invariance"):
            call()
    for old in ("sim_coeff", "std_coeff", "cov_coeff"):
        with pytest.raises(TypeError, match=old):
            vicreg_weights_to_gform(dim=4, **{old: 1.0})
    w = vicreg_weights_to_gform(invariance_weight=10, variance_weight=5, covariance_weight=2, dim=4)
    assert (w.alpha, w.beta, w.gamma) == pytest.approx((5 / 4, 2 * 2 / 4, 10 / 4))  # μ/K, 2ν/K, λ/K
    assert hinge_vicreg(G, 2, invariance_weight=0.0).rank == 2


def test_shared_number_checks(small_problem):
    from kspectral.spectral import kernel_lpp, linear_vicreg

    X, G = small_problem
    with pytest.raises(ValueError, match="ridge must be a finite non-negative number"):
        linear_vicreg(X, G, 2, ridge=-1.0)
    with pytest.raises(ValueError, match="ridge must be a finite non-negative number"):
        lpp(X, G, 2, ridge=float("nan"))
    with pytest.raises(TypeError, match="ridge must be a number"):
        kernel_lpp(X, G, 2, ridge="small")
    with pytest.raises(ValueError, match="invariance_weight must be a finite positive number"):
        linear_vicreg(X, G, 2, variant="quadratic", invariance_weight=0.0)
    with pytest.raises(ValueError, match="temperature must be a finite positive number"):
        SimplexEmbedding(2, temperature=0.0).fit(label_graph([0, 0, 1, 1]))
