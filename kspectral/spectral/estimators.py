"""scikit-learn estimators for the closed-form baselines (``fit`` / ``transform`` / ``get_params``).

They drop into a scikit-learn pipeline beside ``SpectralEmbedding`` or ``Isomap``, and they are what
:func:`kspectral.spectral.baselines.spectral_baseline` returns for each method. The positive-pair graph is given
as ``fit(X, graph=G)``, or built from the data by the ``graph`` parameter: ``"knn:K"`` (kNN on ``X``),
``"labels"`` (same-label pairs, from ``y``), or, for the nonparametric estimators, ``"precomputed"`` (``X`` is
the graph itself); see :func:`~kspectral.spectral.graphs.build_graph`.

- Nonparametric (embed the ``N`` nodes of ``G``; ``embedding_``, ``fit_transform``): :class:`LaplacianEigenmaps`
  (VICReg: hard, hinge or quadratic), :class:`SpectralContrastiveEmbedding`, :class:`BarlowTwinsEmbedding`,
  :class:`SimplexEmbedding` (SimCLR on clique graphs), :class:`GraphIsomap`, :class:`SpectralClustering`.
- Linear (``Z = XW + b``; ``components_``, ``transform`` of new data): :class:`LinearVICReg`, :class:`LPP`,
  :class:`KernelLPP`, :class:`LinearSpectralContrastive`, :class:`LinearBarlowTwins`,
  :class:`LinearSpectralClustering`.

Every fitted estimator has ``objective_`` (the optimal value of its objective, ``nan`` where none is known) and
``rank_``. Hyperparameters carry the names of the closed-form functions (``invariance_weight``,
``variance_weight``, ``ridge``); the clustering estimators take scikit-learn's ``random_state``.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.utils import check_random_state as _sklearn_random_state
from sklearn.utils.validation import check_is_fitted

from kspectral._validation import check_matrix, check_positive_int
from kspectral.spectral import linear as _linear
from kspectral.spectral import nonparametric as _np
from kspectral.spectral.clustering import spectral_clustering
from kspectral.spectral.graphs import build_graph, graph_geodesic_distances, is_pair_graph, validate_graph
from kspectral.errors import InputError


def _int_seed(random_state):
    """An int seed from scikit-learn's ``random_state`` (an int is kept; ``None`` or a ``RandomState`` draws one)."""
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return int(random_state)
    return int(_sklearn_random_state(random_state).randint(np.iinfo(np.int32).max))



def _store_parameters(estimator, arguments):
    """Keep an estimator's constructor ``arguments`` (its ``locals()``) as attributes of the same names, unchanged,
    as scikit-learn's ``get_params`` / ``clone`` expect."""
    for name, value in arguments.items():
        if name != "self":
            setattr(estimator, name, value)

class _GraphEstimator(TransformerMixin, BaseEstimator):
    """Shared graph handling: the ``graph`` parameter, or ``fit(X, y, graph=G)``."""

    def _graph(self, X, y, graph, allow_precomputed=True):
        if allow_precomputed and self.graph == "precomputed":
            if graph is not None:
                raise InputError("graph='precomputed' takes the graph as X; do not pass graph= as well")
            G = validate_graph(X)
            return None, G
        X = check_matrix(X, "X", min_rows=2)
        if graph is not None:
            return X, validate_graph(graph, n=X.shape[0])
        if self.graph == "precomputed":
            raise InputError(f"{type(self).__name__} is linear: pass features X and graph=G, not graph='precomputed'")
        return X, build_graph(self.graph, X, y)


class _NonparametricEstimator(_GraphEstimator):
    """Embeds the nodes it was fitted on; ``fit_transform`` returns ``embedding_``. Subclasses define ``_solve``."""

    def fit(self, X, y=None, graph=None):
        """Fit on a graph: ``X`` is the graph with ``graph="precomputed"``, else features (see the module)."""
        _, G = self._graph(X, y, graph)
        return self._store(self._solve(G))

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
    """``Z = X @ components_ + bias_``; ``transform`` applies it to new data. Subclasses define ``_solve``."""

    def fit(self, X, y=None, graph=None):
        """Fit on features ``X`` and the graph ``graph=G`` (or the one the ``graph`` parameter builds)."""
        X, G = self._graph(X, y, graph, allow_precomputed=False)
        return self._store(self._solve(X, G), X)

    def _store(self, sol, X):
        self.solution_ = sol
        if hasattr(sol, "weights"):
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
    """VICReg's nonparametric closed forms on ``G`` as an estimator (Balestriero & LeCun 2022, arXiv:2205.11508).

    ``variant="hard"`` is Laplacian eigenmaps (Belkin & Niyogi 2003) under VICReg's covariance constraint,
    ``√N U_{2:K+1}`` (:func:`~kspectral.spectral.hard_vicreg`); ``"hinge"`` scales column ``k`` by
    ``s_k = min(1, α/(4γλ_{k+1}))`` (:func:`~kspectral.spectral.hinge_vicreg`); ``"quadratic"`` by
    ``√((1 − γ'λ_{k+1}/2)_+)`` (:func:`~kspectral.spectral.quadratic_vicreg`; its rank is set by the invariance
    weight). Like ``sklearn.manifold.SpectralEmbedding`` it embeds the nodes it is fitted on.

    Args:
        n_components: K.
        graph: ``"knn:K"``, ``"labels"`` or ``"precomputed"`` (``X`` is the graph).
        variant: ``"hard"``, ``"hinge"`` or ``"quadratic"``.
        invariance_weight: γ (hinge) or γ' (quadratic), in the G-form.
        variance_weight: α (hinge).
        solver: eigensolver (see :mod:`kspectral.spectral.eigen`).

    Attributes:
        embedding_, eigenvalues_, objective_, rank_, scales_.

    Example:
        >>> from kspectral.spectral import label_graph
        >>> LaplacianEigenmaps(2, graph="precomputed").fit_transform(label_graph([0, 0, 1, 1, 2, 2])).shape
        (6, 2)
    """

    def __init__(self, n_components=2, graph="knn:10", variant="hard", invariance_weight=1.0, variance_weight=1.0,
                 solver="auto"):
        _store_parameters(self, locals())

    def _solve(self, G):
        if self.variant == "hard":
            return _np.hard_vicreg(G, self.n_components, solver=self.solver)
        if self.variant == "hinge":
            return _np.hinge_vicreg(G, self.n_components, variance_weight=self.variance_weight,
                                    invariance_weight=self.invariance_weight, solver=self.solver)
        if self.variant == "quadratic":
            return _np.quadratic_vicreg(G, self.n_components, invariance_weight=self.invariance_weight,
                                        solver=self.solver)
        raise InputError(f"unknown variant {self.variant!r}; choose 'hard', 'hinge' or 'quadratic'")


class SpectralContrastiveEmbedding(_NonparametricEstimator):
    """The spectral contrastive loss's optimum ``D_w^{-1/2} V_K √μ_K`` (HaoChen, Wei, Gaidon & Ma 2021,
    arXiv:2106.04156; :func:`~kspectral.spectral.spectral_contrastive_embedding`).

    Args:
        n_components: K.
        graph: ``"knn:K"``, ``"labels"`` or ``"precomputed"``.
        weighted: the degree-weighted loss (``True``) or the unweighted low-rank fit of ``G``.
        solver: eigensolver, ``"auto"``, ``"dense"`` or ``"arpack"``.
    """

    def __init__(self, n_components=2, graph="knn:10", weighted=True, solver="auto"):
        _store_parameters(self, locals())

    def _solve(self, G):
        return _np.spectral_contrastive_embedding(G, self.n_components, weighted=self.weighted, solver=self.solver)


class BarlowTwinsEmbedding(_NonparametricEstimator):
    """Barlow Twins' (Zbontar et al. 2021, arXiv:2103.03230) nonparametric optimum: an orthonormal centred basis
    of the ``L``-nullspace (:func:`~kspectral.spectral.barlow_twins_invariant`).

    Its rank is at most ``min(K, c − 1)`` with ``c`` the number of components of ``G``: the rank follows ``G``.
    """

    def __init__(self, n_components=2, graph="knn:10"):
        _store_parameters(self, locals())

    def _solve(self, G):
        return _np.barlow_twins_invariant(G, self.n_components)


class SimplexEmbedding(_NonparametricEstimator):
    """SimCLR's (Chen et al. 2020, arXiv:2002.05709) optimum on a union of ``C ≤ K + 1`` equal cliques: class
    collapse onto a regular simplex (:func:`~kspectral.spectral.simclr_simplex`)."""

    def __init__(self, n_components=2, graph="precomputed", temperature=0.5):
        _store_parameters(self, locals())

    def _solve(self, G):
        return _np.simclr_simplex(G, self.n_components, temperature=self.temperature)


class GraphIsomap(_NonparametricEstimator):
    """ISOMAP (Tenenbaum, de Silva & Langford 2000) on the graph's own geodesic distances: classical MDS of the
    shortest paths on ``G`` (:func:`~kspectral.spectral.graph_geodesic_distances`).

    Balestriero & LeCun (2022, arXiv:2205.11508) relate the sample-contrastive losses to MDS / ISOMAP; which
    kernel and distance would make SimCLR's optimum equal this embedding is not established, so it is the
    analogous global method, not SimCLR's optimum. Unlike :func:`~kspectral.spectral.isomap`, the graph is ``G``
    itself, not a kNN graph of features.

    Args:
        n_components: K.
        graph: ``"knn:K"``, ``"labels"`` or ``"precomputed"``; must be connected.
        lengths: edge lengths, ``"hops"`` or ``"inverse_weights"``.
        solver: eigensolver of classical MDS.
    """

    def __init__(self, n_components=2, graph="precomputed", lengths="hops", solver="auto"):
        _store_parameters(self, locals())

    def _solve(self, G):
        D = graph_geodesic_distances(G, self.lengths)
        return _np.classical_mds(D, self.n_components, precomputed="distances", solver=self.solver)


class SpectralClustering(ClusterMixin, _NonparametricEstimator):
    """k-means on Laplacian eigenmaps of ``G`` (von Luxburg 2007): the closed-form analogue of DISSL's balanced,
    invariant partition (Dubois et al. 2022, arXiv:2209.06235), an analogy.

    Args:
        n_clusters: C; the embedding has ``C − 1`` coordinates.
        graph: ``"knn:K"``, ``"labels"`` or ``"precomputed"``.
        random_state: k-means and eigensolver seed: an int, ``None`` or a ``numpy.random.RandomState``.

    Attributes:
        labels_: cluster of each node, ``embedding_``: the ``C − 1`` eigenmap coordinates clustered,
        cluster_centers_.
    """

    def __init__(self, n_clusters=8, graph="knn:10", random_state=0):
        _store_parameters(self, locals())

    def _solve(self, G):
        return spectral_clustering(G, self.n_clusters, seed=_int_seed(self.random_state))

    def _store(self, sol):
        self.labels_ = sol.labels
        self.embedding_ = sol.embedding
        self.cluster_centers_ = sol.centers
        self.objective_ = float("nan")
        self.rank_ = int(sol.embedding.shape[1])
        return self


class LinearVICReg(_LinearEstimator):
    """Closed-form linear VICReg, ``XᵀLX w = ν XᵀHX w`` (:func:`~kspectral.spectral.linear_vicreg`), as an
    estimator.

    Args:
        n_components: K.
        graph: ``"knn:K"`` or ``"labels"``; ignored when ``fit(X, graph=G)`` passes a graph.
        variant: ``"hard"`` (LPP-type limit) or ``"quadratic"``.
        invariance_weight: γ' of the quadratic variant (G-form).
        ridge: ridge added to ``Σ_X`` (0: restrict to its range).

    Attributes:
        components_ (``W``, shape ``(D, K)``), bias_, eigenvalues_, objective_, rank_.
    """

    def __init__(self, n_components=2, graph="knn:10", variant="hard", invariance_weight=1.0, ridge=0.0):
        _store_parameters(self, locals())

    def _solve(self, X, G):
        return _linear.linear_vicreg(X, G, self.n_components, variant=self.variant,
                                     invariance_weight=self.invariance_weight, ridge=self.ridge)


class LPP(_LinearEstimator):
    """Locality preserving projections (He & Niyogi 2003): ``XᵀLX w = ν XᵀDX w`` (:func:`~kspectral.spectral.lpp`)."""

    def __init__(self, n_components=2, graph="knn:10", ridge=0.0):
        _store_parameters(self, locals())

    def _solve(self, X, G):
        return _linear.lpp(X, G, self.n_components, ridge=self.ridge)


class KernelLPP(_LinearEstimator):
    """Kernel LPP, ``K_X L K_X a = ν K_X H K_X a`` (:func:`~kspectral.spectral.kernel_lpp`): VICReg's closed form
    with a kernel encoder. ``transform`` evaluates the kernel against the training data."""

    def __init__(self, n_components=2, graph="knn:10", kernel="rbf", gamma=None, degree=3, coef0=1.0,
                 constraint="covariance", ridge=1e-8):
        _store_parameters(self, locals())

    def _solve(self, X, G):
        return _linear.kernel_lpp(X, G, self.n_components, kernel=self.kernel, gamma=self.gamma, degree=self.degree,
                                  coef0=self.coef0, constraint=self.constraint, ridge=self.ridge)


class LinearSpectralContrastive(_LinearEstimator):
    """The spectral contrastive loss (HaoChen et al. 2021, arXiv:2106.04156) with a linear encoder: ``G`` projected
    onto ``span X`` (:func:`~kspectral.spectral.linear_spectral_contrastive`)."""

    def __init__(self, n_components=2, graph="knn:10", weighted=True, fit_intercept=False):
        _store_parameters(self, locals())

    def _solve(self, X, G):
        return _linear.linear_spectral_contrastive(X, G, self.n_components, weighted=self.weighted,
                                                   fit_intercept=self.fit_intercept)


class LinearBarlowTwins(_LinearEstimator):
    """Barlow Twins with a linear encoder: the top-K canonical subspace.

    On the two-view pair graph (rows ``[X_a; X_b]``, :func:`~kspectral.spectral.graphs.is_pair_graph`) this is
    symmetric CCA of the two halves, :func:`~kspectral.spectral.cca`: the span BT's optimum reaches, up to a
    rotation (``docs/spec/theory.md`` §3.5). On any other graph it uses the graph analogue, the largest-ρ
    solutions of ``XᵀGX w = ρ XᵀDX w``, which is LPP with ``ρ = 1 − ν`` (the two coincide on the pair graph up to
    centring); that generalisation is an analogy. ``method_`` says which ran (``"cca"`` or ``"graph_cca"``).
    """

    def __init__(self, n_components=2, graph="knn:10", ridge=0.0):
        _store_parameters(self, locals())

    def _solve(self, X, G):
        if is_pair_graph(G):
            n = X.shape[0] // 2
            self.method_ = "cca"
            return _linear.cca(X[:n], X[n:], self.n_components, ridge=self.ridge)
        sol = _linear.lpp(X, G, self.n_components, ridge=self.ridge)
        sol.eigenvalues = 1.0 - sol.eigenvalues
        sol.value = float(np.nansum(sol.eigenvalues[: sol.rank]))
        self.method_ = "graph_cca"
        return sol


class LinearSpectralClustering(ClusterMixin, _LinearEstimator):
    """Linear analogue of DISSL's partition: k-means on linear VICReg's closed form (dimension ``C − 1``).

    ``transform`` gives the linear embedding of new data, ``predict`` the nearest cluster.

    Args:
        n_clusters: C ≥ 2.
        graph: ``"knn:K"`` or ``"labels"``.
        random_state: k-means seed: an int, ``None`` or a ``numpy.random.RandomState``.
        ridge: ridge of :func:`~kspectral.spectral.linear_vicreg`.
    """

    def __init__(self, n_clusters=8, graph="knn:10", random_state=0, ridge=0.0):
        _store_parameters(self, locals())

    def _solve(self, X, G):
        from sklearn.cluster import KMeans

        n_clusters = check_positive_int(self.n_clusters, "n_clusters", minimum=2)
        sol = _linear.linear_vicreg(X, G, n_clusters - 1, ridge=self.ridge)
        self.kmeans_ = KMeans(n_clusters, n_init=10, random_state=_int_seed(self.random_state)).fit(sol.transform(X))
        self.labels_ = self.kmeans_.labels_
        self.cluster_centers_ = self.kmeans_.cluster_centers_
        return sol

    def predict(self, X):
        check_is_fitted(self, "kmeans_")
        return self.kmeans_.predict(self.transform(X))
