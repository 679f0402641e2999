"""SimCLR and DCL, with the variants of Garrido et al. (2023), as Keras models."""

from __future__ import annotations

import keras

from kspectral._validation import check_positive
from kspectral.methods.base import SSLModel
from kspectral.methods.registry import register
from kspectral.objectives.simclr import check_form, dcl, simclr


class _NTXentMethod(SSLModel):
    """Shared body of :class:`SimCLR` and :class:`DCL`: a temperature, the form of the loss, a joint forward."""

    objective_options = ("temperature", "negatives", "dimensions")
    joint_views = True

    def __init__(self, encoder, projector="2048-2048-128", temperature=0.1, negatives="plain", dimensions="raw",
                 **kwargs):
        super().__init__(encoder, projector, **kwargs)
        self.temperature = check_positive(temperature, "temperature")
        self.negatives, self.dimensions = check_form(negatives, dimensions)


@register("simclr")
@keras.saving.register_keras_serializable(package="kspectral")
class SimCLR(_NTXentMethod):
    """SimCLR (Chen et al. 2020, arXiv:2002.05709, Eq. 1): NT-Xent on two views, with Garrido et al.'s variants.

    The loss is :func:`kspectral.objectives.simclr`, the mean over the ``2B`` views (half the official code's
    two-direction sum). ``negatives="abs"`` / ``"sq"`` (SimCLR-abs / -sq) and ``dimensions="centered"`` /
    ``"standardized"`` (SimCLR "A" / "B") are the variants of Garrido et al. 2023 (arXiv:2206.02574, Prop. 3.2,
    Table 1, Eq. 14); the registry names ``simclr_abs``, ``simclr_sq``, ``simclr_centered`` and
    ``simclr_standardized`` are aliases for them. Both views go through the network as one batch, as in the official
    code.

    Spectral counterpart: the global family (Balestriero & LeCun 2022, arXiv:2205.11508): the regular-simplex
    optimum when ``G`` is a union of at most ``K + 1`` equal cliques, else ISOMAP / MDS of ``G`` by analogy
    (:mod:`kspectral.spectral.baselines`).

    Args:
        encoder: Keras model mapping inputs to ``(batch, d)`` representations.
        projector: projector spec (SimCLR v2: ``"2048-2048-128"``; Garrido et al.'s tuned ``"8192-8192-d"``).
        temperature: τ (official 0.1; Garrido et al.'s tuned 0.15; CIFAR recipe 0.5).
        negatives: ``"plain"``, ``"abs"`` or ``"sq"``.
        dimensions: ``"raw"``, ``"centered"`` or ``"standardized"`` (only with ``negatives="plain"``).
    """

    objective_function = staticmethod(simclr)


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
    """

    objective_function = staticmethod(dcl)
