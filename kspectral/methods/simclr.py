"""SimCLR and DCL with the variants of Garrido et al. (2023), as Keras models.

Spectral counterpart (``theory.md`` §2, §3.3): sample-contrastive ("global") losses fit the whole similarity
kernel, which is why they map to MDS / ISOMAP rather than to Laplacian eigenmaps. That map is an analogy, not a
theorem: its kernel and conditions are unverified. The exact closed forms kspectral has for this family are the
clique/simplex optimum (G a union of at most ``K + 1`` cliques, Graf et al. 2021) and, in the linear regime
where SimCLR has none, the one of the spectral contrastive loss, the sample-contrastive loss with a closed form.
"""

from __future__ import annotations

import keras
import numpy as np

from kspectral.methods.base import SSLModel
from kspectral.methods.registry import register
from kspectral.objectives.simclr import DCL_VARIANTS, SIMCLR_VARIANTS
from kspectral.objectives._common import check_positive


def global_spectral_baseline(graph, dim, features=None, **options):
    """The closed form of the sample-contrastive ("global") family on ``graph``.

    - nonparametric (``features=None``): the regular-simplex optimum when ``graph`` is a union of at most
      ``dim + 1`` cliques of equal size (exact, ``theory.md`` §3.3), else ISOMAP / classical MDS on the graph's
      shortest-path distances (the analogy of ``theory.md`` §2), which needs a connected ``graph``: any other
      graph (e.g. unequal cliques) raises a ``ValueError`` saying so;
    - linear (``features`` given): linear spectral contrastive, ``G`` projected on ``span X`` (§3.4, §4).

    Returns a fitted estimator of :mod:`kspectral.spectral.estimators`.
    """
    from kspectral.spectral import (
        GraphIsomap,
        LinearSpectralContrastive,
        SimplexEmbedding,
        connected_components,
        is_clique_union,
    )

    if features is not None:
        return LinearSpectralContrastive(dim, **options).fit(features, graph=graph)
    clique_union, n_cliques = is_clique_union(graph)
    sizes = np.bincount(connected_components(graph)[1])
    if clique_union and n_cliques <= dim + 1 and sizes.min() == sizes.max():
        return SimplexEmbedding(dim, **options).fit(graph)
    return GraphIsomap(dim, **options).fit(graph)


class _ContrastiveMethod(SSLModel):
    """Shared body of the SimCLR / DCL families: one temperature, a variant, joint forward of both views."""

    variants: dict = {}
    default_variant = "plain"
    joint_views = True
    spectral_counterpart = "isomap"

    def __init__(self, encoder, projector="2048-2048-128", temperature=0.1, variant=None, **kwargs):
        super().__init__(encoder, projector, **kwargs)
        variant = self.default_variant if variant is None else variant
        if variant not in self.variants:
            raise ValueError(f"unknown {type(self).__name__} variant {variant!r}; choose one of: "
                             f"{', '.join(self.variants)}")
        self.temperature = check_positive(temperature, "temperature")
        self.variant = variant

    def compute_objective(self, outputs):
        return {"loss": self.variants[self.variant](outputs["z_a"], outputs["z_b"], self.temperature)}

    @classmethod
    def spectral_baseline(cls, graph, dim, features=None, **options):
        """See :func:`global_spectral_baseline` (analogy, except the clique/simplex case)."""
        return global_spectral_baseline(graph, dim, features, **options)

    def get_config(self):
        config = super().get_config()
        config.update(temperature=self.temperature, variant=self.variant)
        return config


@register("simclr")
@keras.saving.register_keras_serializable(package="kspectral")
class SimCLR(_ContrastiveMethod):
    """SimCLR (Chen et al. 2020): NT-Xent on two views, and the variants of Garrido et al. (2023).

    Loss (:func:`kspectral.objectives.simclr`; ``objectives.md`` A2 row 1), ``s`` the cosine similarity and the
    ``2B`` views of a batch as the candidates::

        ℓ_i = −s(i, i⁺)/τ + log Σ_{k≠i} exp(s(i, k)/τ),     L = mean over the 2B views

    Variants (A2 rows 2 and 10): ``"abs"`` / ``"sq"`` use ``|s|`` / ``s²`` for the negatives, ``"centered"``
    centres each dimension ("A"), ``"standardized"`` standardises each dimension to norm ``√(N/M)`` ("B",
    Eq. 14). Both views go through the network as one batch, as in the official code.

    Spectral counterpart: the global family, MDS / ISOMAP of ``G`` (an analogy; exact only for clique graphs,
    where the optimum is a regular simplex), see :func:`global_spectral_baseline`.

    Args:
        encoder: Keras model mapping inputs to ``(batch, d)`` representations.
        projector: projector spec (SimCLR v2: ``"2048-2048-128"``; Garrido et al.'s tuned ``"8192-8192-d"``).
        temperature: τ (official 0.1; Garrido et al.'s tuned 0.15; CIFAR recipe 0.5).
        variant: ``"plain"``, ``"abs"``, ``"sq"``, ``"centered"`` or ``"standardized"``.
    """

    variants = SIMCLR_VARIANTS


@register("simclr_abs")
@keras.saving.register_keras_serializable(package="kspectral")
class SimCLRAbs(SimCLR):
    """SimCLR-abs (Garrido et al. 2023): ``|s|`` for the negatives (see :class:`SimCLR`).

    Spectral counterpart: as :class:`SimCLR` (the global family, an analogy).
    """

    default_variant = "abs"


@register("simclr_sq")
@keras.saving.register_keras_serializable(package="kspectral")
class SimCLRSq(SimCLR):
    """SimCLR-sq (Garrido et al. 2023): ``s²`` for the negatives (see :class:`SimCLR`).

    Spectral counterpart: as :class:`SimCLR` (the global family, an analogy).
    """

    default_variant = "sq"


@register("simclr_centered")
@keras.saving.register_keras_serializable(package="kspectral")
class SimCLRCentered(SimCLR):
    """SimCLR with centred dimensions ("A" of Garrido et al. 2023; see :class:`SimCLR`).

    Spectral counterpart: as :class:`SimCLR` (the global family, an analogy).
    """

    default_variant = "centered"


@register("simclr_standardized")
@keras.saving.register_keras_serializable(package="kspectral")
class SimCLRStandardized(SimCLR):
    """SimCLR with standardised dimensions ("B", Eq. 14 of Garrido et al. 2023; see :class:`SimCLR`).

    Spectral counterpart: as :class:`SimCLR` (the global family, an analogy).
    """

    default_variant = "standardized"


@register("dcl")
@keras.saving.register_keras_serializable(package="kspectral")
class DCL(_ContrastiveMethod):
    """Decoupled contrastive learning (Yeh et al. 2022): SimCLR without the positive in the denominator.

    Loss (:func:`kspectral.objectives.dcl`; ``objectives.md`` A2 row 3)::

        ℓ_i = −s(i, i⁺)/τ + log Σ_{k∉{i, i⁺}} exp(s(i, k)/τ),     L = mean over the 2B views

    ``variant="abs"`` / ``"sq"`` give DCL-abs / DCL-sq (Garrido et al. 2023).

    Spectral counterpart: as :class:`SimCLR` (sample-contrastive, the global family; an analogy).

    Args:
        encoder: Keras model mapping inputs to ``(batch, d)`` representations.
        projector: projector spec.
        temperature: τ.
        variant: ``"plain"``, ``"abs"`` or ``"sq"``.
    """

    variants = DCL_VARIANTS
