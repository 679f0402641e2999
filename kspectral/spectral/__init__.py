"""The spectral side of SSL: positive-pair graphs, Laplacians and the closed-form optima of the losses.

numpy / scipy / scikit-learn only: importing it does not import TensorFlow. The correspondence between SSL losses
and spectral embeddings is that of Balestriero & LeCun (2022, arXiv:2205.11508); ``docs/spec/theory.md`` gives
the formulas and conventions. Each closed form's docstring gives its formula, normalisation convention and
provenance, and :mod:`kspectral.spectral.baselines` says, per method and regime, which estimator is the method's
counterpart and whether that is a theorem, a derivation checked numerically, or an analogy.

The submodules load on first use (PEP 562 module ``__getattr__``): ``import kspectral.spectral`` imports nothing
heavy, ``from kspectral.spectral import knn_graph`` imports :mod:`~kspectral.spectral.graphs` (scipy) and no
scikit-learn, and only the estimators and the closed forms that use it pull scikit-learn. Every public name below
is in ``__all__`` and ``dir()``; ``from kspectral.spectral import *`` imports them all.

- :mod:`~kspectral.spectral.graphs`: positive-pair graphs (``pair_graph``, ``label_graph``, ``knn_graph``, ...);
- :mod:`~kspectral.spectral.laplacian`: Laplacians, degrees, the Dirichlet energy;
- :mod:`~kspectral.spectral.eigen`: eigensolvers that handle connected components first;
- :mod:`~kspectral.spectral.nonparametric`, :mod:`~kspectral.spectral.linear`: the closed forms;
- :mod:`~kspectral.spectral.clustering`: spectral clustering;
- :mod:`~kspectral.spectral.diagnostics`: RankMe, effective rank, alignment, uniformity, ...;
- :mod:`~kspectral.spectral.estimators`: scikit-learn estimators of the closed forms;
- :mod:`~kspectral.spectral.baselines`: the method → closed-form table.

Example:
    >>> from kspectral.spectral import label_graph, laplacian_eigenmaps
    >>> Z = laplacian_eigenmaps(label_graph([0, 0, 1, 1, 2, 2]), dim=2)
    >>> Z.shape
    (6, 2)
"""

import importlib as _importlib
import types as _types

#: public names by the submodule that defines them
_EXPORTS = {
    "baselines": ("BASELINES", "spectral_baseline"),
    "clustering": ("ClusteringSolution", "spectral_clustering"),
    "diagnostics": (
        "alignment", "covariance_deviation", "covariance_spectrum", "effective_rank", "numerical_rank",
        "principal_angle_cosines", "rankme", "singular_values", "uniformity", "within_class_std",
    ),
    "eigen": ("SOLVERS", "choose_solver", "hop_dimension", "laplacian_eigenvectors"),
    "estimators": (
        "LPP", "BarlowTwinsEmbedding", "GraphIsomap", "KernelLPP", "LaplacianEigenmaps", "LinearBarlowTwins",
        "LinearSpectralClustering", "LinearSpectralContrastive", "LinearVICReg", "SimplexEmbedding",
        "SpectralClustering", "SpectralContrastiveEmbedding",
    ),
    "graphs": (
        "CliqueStructure", "GraphReport", "augmentation_graph", "build_graph", "clique_structure",
        "connected_components", "graph_from_pairs", "graph_geodesic_distances", "graph_report", "is_clique_union",
        "is_pair_graph", "knn_graph", "label_graph", "pair_graph", "parse_graph_spec", "rewire",
        "shortest_path_distances", "validate_graph",
    ),
    "laplacian": (
        "LAPLACIAN_KINDS", "centering_matrix", "degree", "dirichlet_energy", "laplacian", "normalized_adjacency",
    ),
    "linear": (
        "GFormWeights", "KernelSolution", "LinearSolution", "cca", "kernel_lpp", "linear_spectral_contrastive",
        "linear_vicreg", "lpp", "vicreg_weights_to_gform",
    ),
    "nonparametric": (
        "SpectralSolution", "barlow_twins_invariant", "classical_mds", "geodesic_distances", "hard_vicreg",
        "hinge_vicreg", "isomap", "kernel_matrix", "kernel_pca", "laplacian_eigenmaps", "laplacian_eigenmaps_value",
        "quadratic_vicreg", "regular_simplex", "simclr_clique_loss_value", "simclr_simplex", "simplex_obstacle",
        "spectral_contrastive_embedding",
    ),
}
_SUBMODULES = tuple(sorted(_EXPORTS))
_ORIGIN = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_ORIGIN)


def __getattr__(name):
    """Import the submodule that defines ``name`` on first use (a public name or a submodule)."""
    module = _ORIGIN.get(name)
    if module is not None:
        value = getattr(_importlib.import_module(f"{__name__}.{module}"), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    if name in _SUBMODULES:
        return _importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *__all__, *_SUBMODULES})


class _Package(_types.ModuleType):
    """The package's module type: a public name keeps its value when a submodule of the same name is imported.

    Importing a submodule sets it as an attribute of its package, so importing ``kspectral.spectral.laplacian``
    would make ``kspectral.spectral.laplacian`` the module instead of the function :func:`laplacian` that the
    package exports (the eager imports of old left the function there).
    """

    def __setattr__(self, name, value):
        if isinstance(value, _types.ModuleType) and name in _ORIGIN and value.__name__ == f"{self.__name__}.{name}":
            value = getattr(value, name)
        super().__setattr__(name, value)


import sys as _sys  # noqa: E402

_sys.modules[__name__].__class__ = _Package
