"""The spectral side of SSL: positive-pair graphs, Laplacians and the closed-form optima of the losses.

numpy / scipy / scikit-learn only: importing it does not import TensorFlow. Spec: ``theory.md``.
"""

from kspectral.spectral.diagnostics import (
    covariance_deviation,
    numerical_rank,
    principal_angle_cosines,
    rankme,
    singular_values,
)
from kspectral.spectral.eigen import SOLVERS, laplacian_eigenvectors
from kspectral.spectral.estimators import LaplacianEigenmaps, LinearVICReg, build_graph, parse_graph_spec
from kspectral.spectral.graphs import (
    GraphReport,
    augmentation_graph,
    connected_components,
    graph_from_pairs,
    graph_report,
    knn_graph,
    label_graph,
    pair_graph,
    rewire,
    validate_graph,
)
from kspectral.spectral.laplacian import (
    LAPLACIAN_KINDS,
    centering_matrix,
    degree,
    dirichlet_energy,
    laplacian,
    normalized_adjacency,
)
from kspectral.spectral.linear import LinearSolution, linear_vicreg
from kspectral.spectral.nonparametric import laplacian_eigenmaps, laplacian_eigenmaps_value

__all__ = [
    "LAPLACIAN_KINDS",
    "SOLVERS",
    "GraphReport",
    "LaplacianEigenmaps",
    "LinearSolution",
    "LinearVICReg",
    "augmentation_graph",
    "build_graph",
    "centering_matrix",
    "connected_components",
    "covariance_deviation",
    "degree",
    "dirichlet_energy",
    "graph_from_pairs",
    "graph_report",
    "knn_graph",
    "label_graph",
    "laplacian",
    "laplacian_eigenmaps",
    "laplacian_eigenmaps_value",
    "laplacian_eigenvectors",
    "linear_vicreg",
    "normalized_adjacency",
    "numerical_rank",
    "pair_graph",
    "parse_graph_spec",
    "principal_angle_cosines",
    "rankme",
    "rewire",
    "singular_values",
    "validate_graph",
]
