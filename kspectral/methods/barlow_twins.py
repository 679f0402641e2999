"""Barlow Twins (Zbontar et al. 2021) as a Keras model."""

from __future__ import annotations

import keras

from kspectral._validation import check_nonnegative, check_positive
from kspectral.methods.base import SSLModel
from kspectral.methods.registry import register
from kspectral.objectives.barlow_twins import barlow_twins


@register("barlow_twins")
@keras.saving.register_keras_serializable(package="kspectral")
class BarlowTwins(SSLModel):
    """Barlow Twins (Zbontar, Jing, Misra, LeCun & Deny 2021, arXiv:2103.03230, Eqs. 1-2), as the official code.

    The loss is :func:`kspectral.objectives.barlow_twins`; the metrics report ``invariance = Σ_i (1 − C_ii)²`` and
    ``redundancy = Σ_{i≠j} C_ij²``.

    Spectral counterpart: nonparametrically, any standardised, decorrelated, view-invariant ``Z`` is optimal, a
    basis of the Laplacian's nullspace (so the rank follows ``G``); with a linear encoder on two views, the top-K
    canonical (CCA) subspace (:mod:`kspectral.spectral.baselines`).

    Args:
        encoder: Keras model mapping inputs to ``(batch, d)`` representations.
        projector: projector spec (official ``"8192-8192-8192"``).
        redundancy_weight: λ_BT (official 0.0051).
        epsilon: ε of the batch standardisation (BatchNorm's 1e-5).
        scale_loss: a factor on the loss (official 1; solo-learn's CIFAR config 0.1).
    """

    objective_function = staticmethod(barlow_twins)
    objective_options = ("redundancy_weight", "epsilon", "scale_loss")
    loss_terms = ("invariance", "redundancy")

    def __init__(self, encoder, projector="2048-2048-2048", redundancy_weight=0.0051, epsilon=1e-5, scale_loss=1.0,
                 **kwargs):
        super().__init__(encoder, projector, **kwargs)
        self.redundancy_weight = check_nonnegative(redundancy_weight, "redundancy_weight")
        self.epsilon = check_positive(epsilon, "epsilon")
        self.scale_loss = check_positive(scale_loss, "scale_loss")
