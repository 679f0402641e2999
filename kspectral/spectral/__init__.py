"""The spectral side of SSL: positive-pair graphs, Laplacians and the closed-form optima of the losses.

numpy / scipy / scikit-learn only: importing it does not import TensorFlow. Spec: ``theory.md`` (in
``docs/spec/``). Each closed form's docstring gives its formula, normalisation convention and provenance
(a theorem, a derivation checked numerically for the spec, or an analogy).
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
    build_graph,
    graph_geodesic_distances,
    is_clique_union,
    is_pair_graph,
    parse_graph_spec,
)
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
    spectral_contrastive_embedding,
)

import types as _types

__all__ = sorted(n for n, v in dict(globals()).items() if not n.startswith("_") and not isinstance(v, _types.ModuleType))
