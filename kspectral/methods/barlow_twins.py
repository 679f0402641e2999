"""Barlow Twins (Zbontar et al. 2021) as a Keras model, with its CCA / invariant-subspace closed form."""

from __future__ import annotations

import keras

from kspectral.methods.base import SSLModel
from kspectral.methods.registry import register
from kspectral.objectives.barlow_twins import barlow_twins_terms
from kspectral.objectives._common import check_nonnegative, check_positive


@register("barlow_twins")
@keras.saving.register_keras_serializable(package="kspectral")
class BarlowTwins(SSLModel):
    """Barlow Twins, exactly as ``facebookresearch/barlowtwins`` (``objectives.md`` A2 row 6)::

        C = BN(z_a)ᵀ BN(z_b) / N,      L = Σ_i (1 − C_ii)² + λ_BT Σ_{i≠j} C_ij²

    with ``BN`` the per-view batch standardisation (no affine, biased variance, ``ε`` inside the root). The
    metrics report ``invariance = Σ_i (1 − C_ii)²`` and ``redundancy = Σ_{i≠j} C_ij²``.

    Spectral counterpart (``theory.md`` §3.5, derived for the spec and checked numerically): with a linear
    shared encoder on two views the optimum spans the top-K **canonical (CCA) subspace** (up to a rotation that
    equalises the correlations; "close to CCA" in the paper's words, [secondary, unverified]); nonparametrically
    any standardised, decorrelated, view-invariant ``Z`` is optimal, i.e. a basis of the Laplacian's nullspace,
    so the rank follows ``G`` (``≤ c − 1`` components).

    Args:
        encoder: Keras model mapping inputs to ``(batch, d)`` representations.
        projector: projector spec (official ``"8192-8192-8192"``).
        redundancy_weight: λ_BT (official 0.0051).
        epsilon: ε of the batch standardisation (BatchNorm's 1e-5).
    """

    loss_terms = ("invariance", "redundancy")
    spectral_counterpart = "cca"

    def __init__(self, encoder, projector="2048-2048-2048", redundancy_weight=0.0051, epsilon=1e-5, **kwargs):
        super().__init__(encoder, projector, **kwargs)
        self.redundancy_weight = check_nonnegative(redundancy_weight, "redundancy_weight")
        self.epsilon = check_positive(epsilon, "epsilon")

    def compute_objective(self, outputs):
        terms = barlow_twins_terms(outputs["z_a"], outputs["z_b"], self.epsilon)
        return {"loss": terms["invariance"] + self.redundancy_weight * terms["redundancy"], **terms}

    @classmethod
    def spectral_baseline(cls, graph, dim, features=None, **options):
        """:class:`~kspectral.spectral.BarlowTwinsEmbedding` (nonparametric) or
        :class:`~kspectral.spectral.LinearBarlowTwins` (CCA on the two-view pair graph), fitted on ``graph``."""
        from kspectral.spectral import BarlowTwinsEmbedding, LinearBarlowTwins

        if features is None:
            return BarlowTwinsEmbedding(dim, graph="precomputed", **options).fit(graph)
        return LinearBarlowTwins(dim, **options).fit(features, graph=graph)

    def get_config(self):
        config = super().get_config()
        config.update(redundancy_weight=self.redundancy_weight, epsilon=self.epsilon)
        return config
