"""scikit-learn estimators for the closed-form baselines (``fit`` / ``transform`` / ``get_params``).

They drop into a scikit-learn pipeline beside ``SpectralEmbedding`` or ``Isomap``, and they are what each method's
``spectral_baseline`` returns. The positive-pair graph is given as ``fit(X, graph=G)``, or built from the data
by the ``graph`` parameter: ``"knn:K"`` (kNN on ``X``), ``"labels"`` (same-label pairs, from ``y``), or, for the
nonparametric estimators, ``"precomputed"`` (``X`` is the graph itself).

- Nonparametric (embed the ``N`` nodes of ``G``; ``embedding_``, ``fit_transform``): :class:`LaplacianEigenmaps`
  (VICReg: hard, hinge or quadratic), :class:`SpectralContrastiveEmbedding`, :class:`BarlowTwinsEmbedding`,
  :class:`SimplexEmbedding` (SimCLR on clique graphs), :class:`GraphIsomap`, :class:`SpectralClustering`.
- Linear (``Z = XW + b``; ``components_``, ``transform`` of new data): :class:`LinearVICReg`, :class:`LPP`,
  :class:`KernelLPP`, :class:`LinearSpectralContrastive`, :class:`LinearBarlowTwins`,
  :class:`LinearSpectralClustering`.

Every fitted estimator has ``objective_`` (the optimal value of its objective, ``nan`` where none is known) and
``rank_``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from kspectral._validation import check_matrix
from kspectral.spectral import linear as _linear
from kspectral.spectral import nonparametric as _np
from kspectral.spectral.clustering import spectral_clustering
from kspectral.spectral.graphs import connected_components, knn_graph, label_graph, validate_graph


def parse_graph_spec(spec):
    """Parse ``"knn:10"``, ``"knn"`` (k=10), ``"labels"`` into ``(kind, k)``; raise on anything else."""
    if not isinstance(spec, str):
        raise TypeError(f"graph must be a spec string such as 'knn:10' or 'labels', got {type(spec).__name__}")
    kind, _, arg = spec.partition(":")
    if kind == "labels" and not arg:
        return "labels", None
    if kind == "knn":
        try:
            k = int(arg) if arg else 10
        except ValueError:
            k = 0
        if k >= 1:
            return "knn", k
    raise ValueError(f"unknown graph spec {spec!r}; use 'knn:K' (K ≥ 1, e.g. 'knn:10') or 'labels'")


def build_graph(spec, X, y=None):
    """Build a positive-pair graph from a spec string (see :func:`parse_graph_spec`)."""
    kind, k = parse_graph_spec(spec)
    if kind == "labels":
        if y is None:
            raise ValueError("graph='labels' needs labels: call fit(X, y)")
        return label_graph(y)
    return knn_graph(X, k)


def is_pair_graph(G):
    """Whether ``G`` is exactly :func:`~kspectral.spectral.pair_graph` of ``N/2`` samples with two views."""
    G = validate_graph(G)
    N = G.shape[0]
    if N % 2 or G.nnz != N:
        return False
    n = N // 2
    coo = G.tocoo()
    return bool(np.all(coo.data == 1.0) and np.all(np.abs(coo.row - coo.col) == n))


def is_clique_union(G):
    """``(True, C)`` if ``G`` is a union of ``C`` disjoint cliques (every component complete), else ``(False, c)``."""
    G = validate_graph(G)
    n_comp, labels = connected_components(G)
    sizes = np.bincount(labels, minlength=n_comp)
    complete = bool(np.all(np.diff(G.indptr) == sizes[labels] - 1))
    return complete, n_comp


def graph_geodesic_distances(G, lengths="hops"):
    """Shortest-path distances between the nodes of ``G``, shape ``(N, N)``.

    Args:
        G: connected positive-pair graph.
        lengths: ``"hops"`` (every edge has length 1) or ``"inverse_weights"`` (length ``1/G_ij``).
    """
    G = validate_graph(G)
    if lengths not in ("hops", "inverse_weights"):
        raise ValueError(f"unknown lengths {lengths!r}; choose 'hops' or 'inverse_weights'")
    n_comp, _ = connected_components(G)
    if n_comp > 1:
        raise ValueError(
            f"G has {n_comp} connected components, so some geodesic distances are infinite; ISOMAP needs a "
            "connected graph (use a kNN graph with larger k, or embed each component separately)"
        )
    W = G.copy()
    W.data = np.ones_like(W.data) if lengths == "hops" else 1.0 / W.data
    return csgraph.shortest_path(sp.csr_matrix(W), directed=False)


class _GraphEstimator(TransformerMixin, BaseEstimator):
    """Shared graph handling: ``graph`` spec, ``fit(X, y, graph=G)``."""

    def _graph(self, X, y, graph, allow_precomputed=True):
        if allow_precomputed and self.graph == "precomputed":
            if graph is not None:
                raise ValueError("graph='precomputed' takes the graph as X; do not pass graph= as well")
            G = validate_graph(X)
            return None, G
        X = check_matrix(X, "X", min_rows=2)
        if graph is not None:
            return X, validate_graph(graph, n=X.shape[0])
        if self.graph == "precomputed":
            raise ValueError(f"{type(self).__name__} is linear: pass features X and graph=G, not graph='precomputed'")
        return X, build_graph(self.graph, X, y)


class _NonparametricEstimator(_GraphEstimator):
    """Embeds the nodes it was fitted on; ``fit_transform`` returns ``embedding_``."""

    def fit_transform(self, X, y=None, graph=None):
        return self.fit(X, y, graph=graph).embedding_

    def _store(self, sol):
        self.embedding_ = sol.embedding
        self.eigenvalues_ = sol.eigenvalues
        self.objective_ = float(sol.value)
        self.rank_ = int(sol.rank)
        self.scales_ = sol.scales
        return self


class _LinearEstimator(_GraphEstimator):
    """``Z = X @ components_ + bias_``; ``transform`` applies it to new data."""

    def _store(self, sol, X):
        self.solution_ = sol
        self.components_ = sol.weights
        self.bias_ = sol.bias
        self.eigenvalues_ = sol.eigenvalues
        self.objective_ = float(sol.value)
        self.rank_ = int(sol.rank)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        check_is_fitted(self, "solution_")
        return self.solution_.transform(X)


class LaplacianEigenmaps(_NonparametricEstimator):
    """VICReg's nonparametric closed forms (``theory.md`` §3.2) as an estimator.

    ``variant="hard"`` is Laplacian eigenmaps, ``√N U_{2:K+1}`` (the hard-constraint limit); ``"hinge"`` scales
    column ``k`` by ``s_k = min(1, α/(4γλ_{k+1}))``; ``"quadratic"`` by ``√((1 − γ'λ_{k+1}/2)_+)`` (its rank is set
    by the invariance weight). Like ``sklearn.manifold.SpectralEmbedding`` it embeds the nodes it is fitted on.

    Args:
        n_components: K.
        graph: ``"knn:K"``, ``"labels"`` or ``"precomputed"`` (``X`` is the graph).
        variant: ``"hard"``, ``"hinge"`` or ``"quadratic"``.
        invariance: γ (hinge) or γ' (quadratic).
        variance_weight: α (hinge).
        solver: eigensolver (see :mod:`kspectral.spectral.eigen`).

    Attributes:
        embedding_, eigenvalues_, objective_, rank_, scales_.
    """

    def __init__(self, n_components=2, graph="knn:10", variant="hard", invariance=1.0, variance_weight=1.0,
                 solver="auto"):
        self.n_components = n_components
        self.graph = graph
        self.variant = variant
        self.invariance = invariance
        self.variance_weight = variance_weight
        self.solver = solver

    def fit(self, X, y=None, graph=None):
        _, G = self._graph(X, y, graph)
        if self.variant == "hard":
            sol = _np.hard_vicreg(G, self.n_components, solver=self.solver)
        elif self.variant == "hinge":
            sol = _np.hinge_vicreg(G, self.n_components, variance_weight=self.variance_weight,
                                   invariance_weight=self.invariance, solver=self.solver)
        elif self.variant == "quadratic":
            sol = _np.quadratic_vicreg(G, self.n_components, invariance=self.invariance, solver=self.solver)
        else:
            raise ValueError(f"unknown variant {self.variant!r}; choose 'hard', 'hinge' or 'quadratic'")
        return self._store(sol)


class SpectralContrastiveEmbedding(_NonparametricEstimator):
    """HaoChen et al.'s spectral contrastive optimum ``D_w^{-1/2} V_K √μ_K`` (``theory.md`` §3.4).

    Args:
        n_components: K.
        graph: ``"knn:K"``, ``"labels"`` or ``"precomputed"``.
        weighted: the degree-weighted loss (``True``) or the unweighted low-rank fit of ``A``.
    """

    def __init__(self, n_components=2, graph="knn:10", weighted=True, solver="auto"):
        self.n_components = n_components
        self.graph = graph
        self.weighted = weighted
        self.solver = solver

    def fit(self, X, y=None, graph=None):
        _, G = self._graph(X, y, graph)
        return self._store(_np.spectral_contrastive_embedding(G, self.n_components, weighted=self.weighted,
                                                              solver=self.solver))


class BarlowTwinsEmbedding(_NonparametricEstimator):
    """Barlow Twins' nonparametric optimum: an orthonormal centred basis of the ``L``-nullspace (``theory.md`` §3.5).

    Its rank is at most ``min(K, c − 1)`` with ``c`` the number of components of ``G``: the rank follows ``G``.
    """

    def __init__(self, n_components=2, graph="knn:10"):
        self.n_components = n_components
        self.graph = graph

    def fit(self, X, y=None, graph=None):
        _, G = self._graph(X, y, graph)
        return self._store(_np.barlow_twins_invariant(G, self.n_components))


class SimplexEmbedding(_NonparametricEstimator):
    """SimCLR's optimum on a union of ``C ≤ K + 1`` equal cliques: class collapse onto a regular simplex (§3.3)."""

    def __init__(self, n_components=2, graph="precomputed", temperature=0.5):
        self.n_components = n_components
        self.graph = graph
        self.temperature = temperature

    def fit(self, X, y=None, graph=None):
        _, G = self._graph(X, y, graph)
        return self._store(_np.simclr_simplex(G, self.n_components, temperature=self.temperature))


class GraphIsomap(_NonparametricEstimator):
    """ISOMAP on the graph's own geodesic distances: classical MDS of shortest paths on ``G``.

    The global counterpart of the sample-contrastive losses (``theory.md`` §2: "SimCLR recovers (kernel)
    ISOMAP" is [secondary, unverified]; which kernel and distance make it exact is unknown). Unlike
    :func:`~kspectral.spectral.isomap`, the graph is ``G`` itself, not a kNN graph of features.

    Args:
        n_components: K.
        graph: ``"knn:K"``, ``"labels"`` or ``"precomputed"``; must be connected.
        lengths: edge lengths, ``"hops"`` or ``"inverse_weights"``.
    """

    def __init__(self, n_components=2, graph="precomputed", lengths="hops", solver="auto"):
        self.n_components = n_components
        self.graph = graph
        self.lengths = lengths
        self.solver = solver

    def fit(self, X, y=None, graph=None):
        _, G = self._graph(X, y, graph)
        D = graph_geodesic_distances(G, self.lengths)
        return self._store(_np.classical_mds(D, self.n_components, precomputed="distances", solver=self.solver))


class SpectralClustering(ClusterMixin, _NonparametricEstimator):
    """k-means on Laplacian eigenmaps of ``G``: the nearest closed-form analogue of DISSL (an analogy).

    Attributes:
        labels_: cluster of each node, ``embedding_``: the ``C − 1`` eigenmap coordinates clustered,
        cluster_centers_.
    """

    def __init__(self, n_clusters=8, graph="knn:10", seed=0):
        self.n_clusters = n_clusters
        self.graph = graph
        self.seed = seed

    def fit(self, X, y=None, graph=None):
        _, G = self._graph(X, y, graph)
        sol = spectral_clustering(G, self.n_clusters, seed=self.seed)
        self.labels_ = sol.labels
        self.embedding_ = sol.embedding
        self.cluster_centers_ = sol.centers
        self.objective_ = float("nan")
        self.rank_ = int(sol.embedding.shape[1])
        return self


class LinearVICReg(_LinearEstimator):
    """Closed-form linear VICReg (``theory.md`` §4, :func:`~kspectral.spectral.linear_vicreg`) as an estimator.

    Args:
        n_components: K.
        graph: ``"knn:K"`` or ``"labels"``; ignored when ``fit(X, graph=G)`` passes a graph.
        variant: ``"hard"`` (LPP-type limit) or ``"quadratic"``.
        invariance: γ' of the quadratic variant.
        ridge: ridge added to ``Σ_X`` (0: restrict to its range).

    Attributes:
        components_ (``W``, shape ``(D, K)``), bias_, eigenvalues_, objective_, rank_.
    """

    def __init__(self, n_components=2, graph="knn:10", variant="hard", invariance=1.0, ridge=0.0):
        self.n_components = n_components
        self.graph = graph
        self.variant = variant
        self.invariance = invariance
        self.ridge = ridge

    def fit(self, X, y=None, graph=None):
        X, G = self._graph(X, y, graph, allow_precomputed=False)
        sol = _linear.linear_vicreg(X, G, self.n_components, variant=self.variant, invariance=self.invariance,
                                    ridge=self.ridge)
        return self._store(sol, X)


class LPP(_LinearEstimator):
    """Locality preserving projections (He & Niyogi 2003): ``XᵀLX w = ν XᵀDX w`` (``theory.md`` §4)."""

    def __init__(self, n_components=2, graph="knn:10", ridge=0.0):
        self.n_components = n_components
        self.graph = graph
        self.ridge = ridge

    def fit(self, X, y=None, graph=None):
        X, G = self._graph(X, y, graph, allow_precomputed=False)
        return self._store(_linear.lpp(X, G, self.n_components, ridge=self.ridge), X)


class KernelLPP(_LinearEstimator):
    """Kernel LPP, ``K_X L K_X a = ν K_X H K_X a`` (``theory.md`` §4): VICReg's closed form with a kernel encoder."""

    def __init__(self, n_components=2, graph="knn:10", kernel="rbf", gamma=None, degree=3, coef0=1.0,
                 constraint="covariance", ridge=1e-8):
        self.n_components = n_components
        self.graph = graph
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.constraint = constraint
        self.ridge = ridge

    def fit(self, X, y=None, graph=None):
        X, G = self._graph(X, y, graph, allow_precomputed=False)
        sol = _linear.kernel_lpp(X, G, self.n_components, kernel=self.kernel, gamma=self.gamma, degree=self.degree,
                                 coef0=self.coef0, constraint=self.constraint, ridge=self.ridge)
        self.solution_ = sol
        self.eigenvalues_ = sol.eigenvalues
        self.objective_ = float(sol.value)
        self.rank_ = int(sol.rank)
        self.n_features_in_ = X.shape[1]
        return self


class LinearSpectralContrastive(_LinearEstimator):
    """Linear spectral contrastive closed form: ``G`` projected onto ``span X`` (``theory.md`` §3.4, §4)."""

    def __init__(self, n_components=2, graph="knn:10", weighted=True, fit_intercept=False):
        self.n_components = n_components
        self.graph = graph
        self.weighted = weighted
        self.fit_intercept = fit_intercept

    def fit(self, X, y=None, graph=None):
        X, G = self._graph(X, y, graph, allow_precomputed=False)
        sol = _linear.linear_spectral_contrastive(X, G, self.n_components, weighted=self.weighted,
                                                  fit_intercept=self.fit_intercept)
        return self._store(sol, X)


class LinearBarlowTwins(_LinearEstimator):
    """Barlow Twins with a linear encoder: the top-K canonical subspace (``theory.md`` §3.5).

    On the two-view pair graph (rows ``[X_a; X_b]``) this is symmetric CCA of the two halves,
    :func:`~kspectral.spectral.cca` (the span BT's optimum reaches, up to a rotation). On any other graph it
    uses the graph analogue, the largest-ρ solutions of ``XᵀGX w = ρ XᵀDX w``, which is LPP with
    ``ρ = 1 − ν`` (the two coincide on the pair graph up to centring); that generalisation is an analogy.
    """

    def __init__(self, n_components=2, graph="knn:10", ridge=0.0):
        self.n_components = n_components
        self.graph = graph
        self.ridge = ridge

    def fit(self, X, y=None, graph=None):
        X, G = self._graph(X, y, graph, allow_precomputed=False)
        if is_pair_graph(G):
            n = X.shape[0] // 2
            sol = _linear.cca(X[:n], X[n:], self.n_components, ridge=self.ridge)
            self.method_ = "cca"
        else:
            sol = _linear.lpp(X, G, self.n_components, ridge=self.ridge)
            sol.eigenvalues = 1.0 - sol.eigenvalues
            sol.value = float(np.nansum(sol.eigenvalues[: sol.rank]))
            self.method_ = "graph_cca"
        return self._store(sol, X)


class LinearSpectralClustering(ClusterMixin, _LinearEstimator):
    """Linear analogue of DISSL's partition: k-means on linear VICReg's closed form (dim ``C − 1``).

    ``transform`` gives the linear embedding of new data, ``predict`` the nearest cluster.
    """

    def __init__(self, n_clusters=8, graph="knn:10", seed=0, ridge=0.0):
        self.n_clusters = n_clusters
        self.graph = graph
        self.seed = seed
        self.ridge = ridge

    def fit(self, X, y=None, graph=None):
        from sklearn.cluster import KMeans

        X, G = self._graph(X, y, graph, allow_precomputed=False)
        if not isinstance(self.n_clusters, (int, np.integer)) or self.n_clusters < 2:
            raise ValueError(f"n_clusters must be an integer ≥ 2, got {self.n_clusters!r}")
        sol = _linear.linear_vicreg(X, G, self.n_clusters - 1, ridge=self.ridge)
        self._store(sol, X)
        self.kmeans_ = KMeans(self.n_clusters, n_init=10, random_state=self.seed).fit(sol.transform(X))
        self.labels_ = self.kmeans_.labels_
        self.cluster_centers_ = self.kmeans_.cluster_centers_
        return self

    def predict(self, X):
        return self.kmeans_.predict(self.transform(X))
