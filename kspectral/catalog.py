"""The method catalogue (canonical method names, their classes and losses, the aliases) and the names of the other
registries (encoders, stems, optimizers, augmentation presets, kNN presets, closed-form regimes). TF-free.

This module imports neither Keras nor TensorFlow, so the ``kspectral methods`` command and the docs can list the
methods cheaply. :mod:`kspectral.methods` registers one class per entry of :data:`METHODS` and takes its aliases
from :data:`ALIASES` (a test checks that the two agree).

Example:
    >>> from kspectral import catalog
    >>> catalog.resolve_name("simclr_abs")
    ('simclr', {'negatives': 'abs'})
    >>> catalog.METHODS["vicreg"].class_name
    'VICReg'
"""

from __future__ import annotations

from typing import NamedTuple
from kspectral.errors import InputError


class MethodEntry(NamedTuple):
    """One canonical method: its class in :mod:`kspectral.methods` and a one-line description of its loss."""

    class_name: str
    description: str


#: Canonical method name → (class name, one-line loss / paper description).
METHODS: dict[str, MethodEntry] = {
    "vicreg": MethodEntry(
        "VICReg", "variance-invariance-covariance (Bardes, Ponce & LeCun 2022, arXiv:2105.04906, Eq. 6)"),
    "vicreg_exp": MethodEntry(
        "VICRegExp", "VICReg with a log-sum-exp covariance penalty (Garrido et al. 2023, arXiv:2206.02574, Eq. 12)"),
    "vicreg_ctr": MethodEntry(
        "VICRegCtr", "VICReg-exp on the transposed embeddings (Garrido et al. 2023, arXiv:2206.02574, Eq. 13)"),
    "barlow_twins": MethodEntry(
        "BarlowTwins", "cross-correlation to the identity (Zbontar et al. 2021, arXiv:2103.03230, Eq. 1)"),
    "tcr": MethodEntry(
        "TCR", "total coding rate plus cosine invariance (EMP-SSL, Tong et al. 2023, arXiv:2304.03977)"),
    "simclr": MethodEntry(
        "SimCLR", "NT-Xent (Chen et al. 2020, arXiv:2002.05709, Eq. 1) with Garrido et al.'s variants"),
    "dcl": MethodEntry(
        "DCL", "decoupled contrastive loss, no positive in the denominator (Yeh et al. 2022, arXiv:2110.06848)"),
    "spectral_contrastive": MethodEntry(
        "SpectralContrastive", "spectral contrastive loss (HaoChen et al. 2021, arXiv:2106.04156)"),
    "cissl": MethodEntry(
        "CISSL", "contrastive ISSL with a linear student and an MLP teacher (Dubois et al. 2022, arXiv:2209.06235)"),
    "dissl": MethodEntry(
        "DISSL", "distillation ISSL over C equivalence classes (Dubois et al. 2022, arXiv:2209.06235)"),
    "byol": MethodEntry(
        "BYOL", "online predictor against a momentum teacher, 2 − 2 cos (Grill et al. 2020, arXiv:2006.07733)"),
    "simsiam": MethodEntry(
        "SimSiam", "predictor against the stop-gradient other view, −cos (Chen & He 2021, arXiv:2011.10566)"),
    "dino": MethodEntry(
        "DINO", "self-distillation onto a centred, sharpened momentum teacher (Caron et al. 2021, arXiv:2104.14294)"),
    "swav": MethodEntry(
        "SwAV", "swapped prediction of Sinkhorn-Knopp prototype codes (Caron et al. 2020, arXiv:2006.09882)"),
    "mocov3": MethodEntry(
        "MoCoV3", "InfoNCE of predictor queries against momentum keys (Chen, Xie & He 2021, arXiv:2104.02057)"),
    "mocov2": MethodEntry(
        "MoCoV2", "symmetric InfoNCE with momentum keys and a key queue (Chen et al. 2020, arXiv:2003.04297)"),
    "nnclr": MethodEntry(
        "NNCLR", "nearest neighbour from a support-set queue as the positive (Dwibedi et al. 2021, arXiv:2104.14548)"),
}

#: Alias → (canonical name, the options the alias sets). ``--method simclr_abs`` is ``SimCLR(negatives="abs")``.
ALIASES: dict[str, tuple[str, dict]] = {
    "simclr_abs": ("simclr", {"negatives": "abs"}),
    "simclr_sq": ("simclr", {"negatives": "sq"}),
    "simclr_centered": ("simclr", {"dimensions": "centered"}),
    "simclr_standardized": ("simclr", {"dimensions": "standardized"}),
}


#: The names of the other kinds that the CLI's help and the config's checks list without importing TensorFlow.
#: The modules that build them key their registries by these names and raise at import when the two disagree
#: (:func:`check_registry`).
#:
#: built-in encoders (:data:`kspectral.encoders.ENCODERS`); ``keras:NAME`` is accepted on top of them
ENCODERS = ("mlp", "conv", "resnet18", "resnet34", "resnet50")
#: ResNet stems (:func:`kspectral.encoders.resnet.resnet_encoder`)
STEMS = ("auto", "cifar", "cifar_pad2", "imagenet")
#: optimizers by name (:func:`kspectral.optimizers.build_optimizer`)
OPTIMIZERS = ("lars", "sgd", "adamw", "lamb")
#: augmentation presets (:data:`kspectral.data.AUGMENTERS`)
AUGMENTERS = ("simclr", "cifar", "byol", "vicreg", "solo_symmetric", "solo_symmetric_weak", "solo_asymmetric",
              "solo_vicreg", "digits", "multicrop")
#: the regimes of a closed form (:mod:`kspectral.spectral.baselines`)
REGIMES = ("nonparametric", "linear")
#: positive-pair graph kinds of ``kspectral spectral --graph`` (:func:`kspectral.runs.problem.check_graph`)
GRAPHS = ("knn:K", "labels", "pairs", "augment")
#: kNN probe presets: name → (k, temperature) (:func:`kspectral.probes.knn_probe`)
KNN_PRESETS = {"dino": (20, 0.07), "instdisc": (200, 0.1)}


class VICRegWeights(NamedTuple):
    """VICReg's loss weights λ, μ, ν and the ε of its standard-deviation hinge."""

    invariance_weight: float
    variance_weight: float
    covariance_weight: float
    epsilon: float


#: VICReg's official weights (Bardes, Ponce & LeCun 2022, ``main_vicreg.py``): the defaults of
#: :func:`kspectral.objectives.vicreg` and its variants, their Keras losses, :class:`kspectral.methods.VICReg` and
#: :func:`kspectral.spectral.linear.vicreg_weights_to_gform`
VICREG = VICRegWeights(invariance_weight=25.0, variance_weight=25.0, covariance_weight=1.0, epsilon=1e-4)


def check_registry(kind, registry, names):
    """Raise ``RuntimeError`` unless the keys of ``registry`` (a module's builders) are ``names`` (its catalogue
    entry), in order; called by each module that builds one kind, so the two cannot drift apart."""
    if tuple(registry) != tuple(names):
        raise RuntimeError(f"the {kind} registry {tuple(registry)} differs from kspectral.catalog's {tuple(names)}; "
                           "list the names in kspectral.catalog only")


def canonical_names():
    """The canonical method names, sorted."""
    return sorted(METHODS)


def names(aliases=True):
    """The method names a user may give (``--method``), sorted; with ``aliases=False`` only the canonical ones."""
    return sorted([*METHODS, *ALIASES]) if aliases else canonical_names()


def resolve_name(name):
    """``(canonical name, alias options)`` for a method name or alias.

    Raises:
        ValueError: unknown name; the message lists the known ones.
    """
    if isinstance(name, str) and name in METHODS:
        return name, {}
    if isinstance(name, str) and name in ALIASES:
        canonical, options = ALIASES[name]
        return canonical, dict(options)
    raise InputError(f"unknown method {name!r}; choose one of: {', '.join(names())}")


__all__ = ["ALIASES", "AUGMENTERS", "ENCODERS", "GRAPHS", "KNN_PRESETS", "METHODS", "OPTIMIZERS", "REGIMES", "STEMS",
           "VICREG", "MethodEntry", "VICRegWeights", "canonical_names", "check_registry", "names", "resolve_name"]
