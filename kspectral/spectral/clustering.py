"""Spectral clustering of a positive-pair graph: the nearest closed-form analogue of DISSL.

DISSL (Dubois, Hashimoto, Ermon & Liang 2022, arXiv:2209.06235) learns a teacher that assigns every sample to one of C equivalence classes, invariant
across positive pairs and balanced across the batch. On a graph G the spectral relaxation of that problem (a
balanced partition that cuts few positive pairs) is spectral clustering: k-means on the bottom Laplacian
eigenvectors. The correspondence is an analogy: neither Dubois et al. nor Balestriero & LeCun (2022,
arXiv:2205.11508) map DISSL to a spectral method.

Here clustering uses the unnormalised Laplacian ``L = D − G`` (von Luxburg 2007, "unnormalized spectral
clustering"), the same eigenvectors as :func:`~kspectral.spectral.laplacian_eigenmaps`, so with ``c``
components the first ``c − 1`` coordinates already separate them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kspectral._validation import check_positive_int
from kspectral.spectral.graphs import validate_graph
from kspectral.spectral.nonparametric import laplacian_eigenmaps


@dataclass
class ClusteringSolution:
    """Result of :func:`spectral_clustering`: ``labels`` (N,), ``embedding`` (N, C−1), ``centers`` (C, C−1)."""

    labels: np.ndarray
    embedding: np.ndarray
    centers: np.ndarray


def spectral_clustering(G, n_clusters, *, seed=0, n_init=10, solver="auto"):
    """Partition the nodes of ``G`` into ``n_clusters`` groups by k-means on Laplacian eigenmaps.

    Args:
        G: positive-pair graph, shape ``(N, N)``.
        n_clusters: C, the number of clusters (``2 ≤ C ≤ N``).
        seed: k-means and eigensolver seed (an int).
        n_init: k-means restarts.
        solver: eigensolver (see :mod:`kspectral.spectral.eigen`).

    Returns:
        :class:`ClusteringSolution`.
    """
    from sklearn.cluster import KMeans

    G = validate_graph(G)
    n_clusters = check_positive_int(n_clusters, "n_clusters", minimum=2, maximum=G.shape[0])
    Z = laplacian_eigenmaps(G, n_clusters - 1, solver=solver, seed=seed)
    km = KMeans(n_clusters, n_init=n_init, random_state=seed).fit(Z)
    return ClusteringSolution(labels=km.labels_, embedding=Z, centers=km.cluster_centers_)
