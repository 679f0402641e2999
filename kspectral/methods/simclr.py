"""SimCLR and DCL, with the variants of Garrido et al. (2023), as Keras models."""

from __future__ import annotations

import keras

from kspectral._validation import check_positive
from kspectral.methods.base import SSLModel
from kspectral.methods.registry import register
from kspectral.objectives.simclr import check_form, dcl, simclr, simclr_multiview


class _NTXentMethod(SSLModel):
    """Shared body of :class:`SimCLR` and :class:`DCL`: a temperature, the form of the loss, a joint forward."""

    objective_options = ("temperature", "negatives", "dimensions")

    def __init__(self, encoder, projector="2048-2048-128", temperature=0.1, negatives="plain", dimensions="raw",
                 joint_views=True, **kwargs):
        super().__init__(encoder, projector, **kwargs)
        self.temperature = check_positive(temperature, "temperature")
        self.negatives, self.dimensions = check_form(negatives, dimensions)
        if not isinstance(joint_views, bool):
            raise TypeError(f"joint_views must be True or False, got {joint_views!r}")
        self.joint_views = joint_views

    def get_config(self):
        config = super().get_config()
        if not self.joint_views:
            config["joint_views"] = False
        return config


@register("simclr")
@keras.saving.register_keras_serializable(package="kspectral")
class SimCLR(_NTXentMethod):
    """SimCLR (Chen et al. 2020, arXiv:2002.05709, Eq. 1): NT-Xent on two views, with Garrido et al.'s variants.

    The loss is :func:`kspectral.objectives.simclr`, the mean over the ``2B`` views (half the official code's
    two-direction sum). ``negatives="abs"`` / ``"sq"`` (SimCLR-abs / -sq) and ``dimensions="centered"`` /
    ``"standardized"`` (SimCLR "A" / "B") are the variants of Garrido et al. 2023 (arXiv:2206.02574, Prop. 3.2,
    Table 1, Eq. 14); the registry names ``simclr_abs``, ``simclr_sq``, ``simclr_centered`` and
    ``simclr_standardized`` are aliases for them. Both views go through the network as one batch (BatchNorm
    statistics over both), as in the official code; ``joint_views=False`` embeds each view separately (per-view
    statistics), as solo-learn's SimCLR does. With more than two views (multi-crop) the loss is
    :func:`kspectral.objectives.simclr_multiview` (each view's positives: the other views of its sample).

    Spectral counterpart: the global family (Balestriero & LeCun 2022, arXiv:2205.11508): the regular-simplex
    optimum when ``G`` is a union of at most ``K + 1`` equal cliques, else ISOMAP / MDS of ``G`` by analogy
    (:mod:`kspectral.spectral.baselines`).

    Args:
        encoder: Keras model mapping inputs to ``(batch, d)`` representations.
        projector: projector spec (SimCLR v2: ``"2048-2048-128"``; Garrido et al.'s tuned ``"8192-8192-d"``).
        temperature: τ (official 0.1; Garrido et al.'s tuned 0.15; CIFAR recipe 0.5).
        negatives: ``"plain"``, ``"abs"`` or ``"sq"``.
        dimensions: ``"raw"``, ``"centered"`` or ``"standardized"`` (only with ``negatives="plain"``).
        joint_views: pass both views through the network as one batch (official) or each on its own (solo-learn).
    """

    objective_function = staticmethod(simclr)

    def compute_multiview_objective(self, outputs):
        """More than two views (multi-crop): :func:`kspectral.objectives.simclr_multiview`, every other view of a
        sample a positive, as solo-learn's SimCLR trains with multi-crop (SwAV's paper, arXiv:2006.09882, §4.3); the
        variants (``negatives`` or ``dimensions`` set) average the two-view loss over every pair of views."""
        if self.negatives == "plain" and self.dimensions == "raw":
            return simclr_multiview(outputs["z"], temperature=self.temperature, return_terms=True)
        return super().compute_multiview_objective(outputs)


@register("dcl")
@keras.saving.register_keras_serializable(package="kspectral")
class DCL(_NTXentMethod):
    """Decoupled contrastive learning (Yeh et al. 2022, arXiv:2110.06848): SimCLR without the positive in the
    denominator.

    The loss is :func:`kspectral.objectives.dcl`, the mean over the ``2B`` views (half the reference code's
    two-direction sum); ``negatives`` and ``dimensions`` as in :class:`SimCLR` (DCL-abs / -sq: Garrido et al. 2023).

    Spectral counterpart: sample-contrastive, the global family of :class:`SimCLR`, by analogy
    (:mod:`kspectral.spectral.baselines`).

    Args:
        encoder: Keras model mapping inputs to ``(batch, d)`` representations.
        projector: projector spec.
        temperature: τ.
        negatives: ``"plain"``, ``"abs"`` or ``"sq"``.
        dimensions: ``"raw"``, ``"centered"`` or ``"standardized"`` (only with ``negatives="plain"``).
        joint_views: as :class:`SimCLR`'s.
    """

    objective_function = staticmethod(dcl)
