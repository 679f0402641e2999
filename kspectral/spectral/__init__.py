"""The spectral side of SSL: positive-pair graphs, Laplacians and the closed-form optima of the losses.

numpy / scipy / scikit-learn only: importing it does not import TensorFlow. The correspondence between SSL losses
and spectral embeddings is that of Balestriero & LeCun (2022, arXiv:2205.11508); ``docs/spec/theory.md`` gives
the formulas and conventions. Each closed form's docstring gives its formula, normalisation convention and
provenance, and :mod:`kspectral.spectral.baselines` says, per method and regime, which estimator is the method's
counterpart and whether that is a theorem, a derivation checked numerically, or an analogy.
"""

from kspectral.spectral.clustering import ClusteringSolution, spectral_clustering
from kspectral.spectral.diagnostics import (
    alignment,
    covariance_deviation,
    covariance_spectrum,
    effective_rank,
    numerical_rank,
    principal_angle_cosines,
    rankme,
    singular_values,
    uniformity,
    within_class_std,
)
from kspectral.spectral.eigen import SOLVERS, choose_solver, hop_dimension, laplacian_eigenvectors
from kspectral.spectral.estimators import (
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
)
from kspectral.spectral.graphs import (
    CliqueStructure,
    GraphReport,
    augmentation_graph,
    build_graph,
    clique_structure,
    connected_components,
    graph_from_pairs,
    graph_geodesic_distances,
    graph_report,
    is_clique_union,
    is_pair_graph,
    knn_graph,
    label_graph,
    pair_graph,
    parse_graph_spec,
    rewire,
    shortest_path_distances,
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
from kspectral.spectral.linear import (
    GFormWeights,
    KernelSolution,
    LinearSolution,
    cca,
    kernel_lpp,
    linear_spectral_contrastive,
    linear_vicreg,
    lpp,
    vicreg_weights_to_gform,
)
from kspectral.spectral.nonparametric import (
    SpectralSolution,
    barlow_twins_invariant,
    classical_mds,
    geodesic_distances,
    hard_vicreg,
    hinge_vicreg,
    isomap,
    kernel_matrix,
    kernel_pca,
    laplacian_eigenmaps,
    laplacian_eigenmaps_value,
    quadratic_vicreg,
    regular_simplex,
    simclr_clique_loss_value,
    simclr_simplex,
    simplex_obstacle,
    spectral_contrastive_embedding,
)
from kspectral.spectral.baselines import BASELINES, spectral_baseline

import types as _types

__all__ = sorted(n for n, v in dict(globals()).items() if not n.startswith("_") and not isinstance(v, _types.ModuleType))
