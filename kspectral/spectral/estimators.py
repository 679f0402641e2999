"""scikit-learn estimators for the closed-form baselines (``fit`` / ``transform`` / ``get_params``).

They drop into a scikit-learn pipeline beside ``SpectralEmbedding`` or ``Isomap``. The positive-pair graph is
given as ``fit(X, graph=G)``, or built from the data by the ``graph`` parameter: ``"knn:K"`` (kNN on ``X``) or
``"labels"`` (same-label pairs, from ``y``).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from kspectral._validation import check_matrix
from kspectral.spectral.graphs import knn_graph, label_graph, validate_graph
from kspectral.spectral.linear import linear_vicreg
from kspectral.spectral.nonparametric import laplacian_eigenmaps, laplacian_eigenmaps_value


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


def _resolve_graph(spec, X, y, graph, n):
    if graph is not None:
        return validate_graph(graph, n=n)
    return build_graph(spec, X, y)


class LaplacianEigenmaps(TransformerMixin, BaseEstimator):
    """Laplacian eigenmaps, the hard-constraint VICReg optimum (``theory.md`` §3.2(a)) as an estimator.

    Nonparametric: it embeds the nodes it was fitted on (``fit_transform`` / ``embedding_``), like
    ``sklearn.manifold.SpectralEmbedding``.

    Args:
        n_components: K.
        graph: ``"knn:K"``, ``"labels"``, or ``"precomputed"`` (``X`` is the graph itself).
        solver: eigensolver (see :mod:`kspectral.spectral.eigen`).

    Attributes:
        embedding_: ``(N, K)`` optimum ``√N U_{2:K+1}``.
        eigenvalues_: ``λ_2..λ_{K+1}``.
        objective_: ``tr(Z*ᵀLZ*) = N Σ λ``.
    """

    def __init__(self, n_components=2, graph="knn:10", solver="auto"):
        self.n_components = n_components
        self.graph = graph
        self.solver = solver

    def fit(self, X, y=None, graph=None):
        if self.graph == "precomputed":
            G = validate_graph(X)
        else:
            X = check_matrix(X, "X", min_rows=2)
            G = _resolve_graph(self.graph, X, y, graph, X.shape[0])
        Z, vals = laplacian_eigenmaps(G, self.n_components, solver=self.solver, return_eigenvalues=True)
        self.embedding_ = Z
        self.eigenvalues_ = vals
        self.objective_ = laplacian_eigenmaps_value(vals, G.shape[0])
        return self

    def fit_transform(self, X, y=None, graph=None):
        return self.fit(X, y, graph=graph).embedding_


class LinearVICReg(TransformerMixin, BaseEstimator):
    """Closed-form linear VICReg (``theory.md`` §4, :func:`~kspectral.spectral.linear_vicreg`) as an estimator.

    Args:
        n_components: K.
        graph: ``"knn:K"`` or ``"labels"``; ignored when ``fit(X, graph=G)`` passes a graph.
        variant: ``"hard"`` (LPP-type limit) or ``"quadratic"``.
        invariance: γ' of the quadratic variant.
        ridge: ridge added to ``Σ_X`` (0: restrict to its range).

    Attributes:
        components_: ``W``, shape ``(D, K)``.
        bias_: ``b``, shape ``(K,)``.
        eigenvalues_: generalized eigenvalues ``ν``.
        objective_: optimal value.
        rank_: number of non-zero columns of ``W``.
    """

    def __init__(self, n_components=2, graph="knn:10", variant="hard", invariance=1.0, ridge=0.0):
        self.n_components = n_components
        self.graph = graph
        self.variant = variant
        self.invariance = invariance
        self.ridge = ridge

    def fit(self, X, y=None, graph=None):
        X = check_matrix(X, "X", min_rows=2)
        G = _resolve_graph(self.graph, X, y, graph, X.shape[0])
        sol = linear_vicreg(
            X, G, self.n_components, variant=self.variant, invariance=self.invariance, ridge=self.ridge
        )
        self.solution_ = sol
        self.components_ = sol.weights
        self.bias_ = sol.bias
        self.eigenvalues_ = sol.eigenvalues
        self.objective_ = sol.value
        self.rank_ = sol.rank
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        check_is_fitted(self, "components_")
        return self.solution_.transform(X)
