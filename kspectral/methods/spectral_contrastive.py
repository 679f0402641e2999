"""Spectral contrastive learning (HaoChen et al. 2021) as a Keras model, with its exact closed form."""

from __future__ import annotations

import keras

from kspectral.methods.base import SSLModel
from kspectral.methods.registry import register
from kspectral.objectives.spectral_contrastive import spectral_contrastive
from kspectral.objectives._common import check_positive


@register("spectral_contrastive")
@keras.saving.register_keras_serializable(package="kspectral")
class SpectralContrastive(SSLModel):
    """Spectral contrastive loss (HaoChen et al. 2021; ``objectives.md`` A2 row 4)::

        L = −2 E[f(x)ᵀf(x⁺)] + E_{x, x⁻}[(f(x)ᵀf(x⁻))²]

    with the embeddings projected onto the ball of radius ``√μ`` (:func:`kspectral.objectives.spectral_contrastive`).

    Spectral counterpart (``theory.md`` §3.4, a theorem): with ``w_ij = G_ij/ΣG``, the loss equals
    ``‖D_w^{1/2} F Fᵀ D_w^{1/2} − Ā‖_F² − ‖Ā‖_F²``, so its optimum is ``F* = D_w^{-1/2} V_K diag(√μ_k)``
    from the top-K eigenpairs of the normalised adjacency ``Ā`` (the constant-like top eigenvector is kept);
    in the linear regime ``G`` is first projected onto ``span X`` (§4).

    Args:
        encoder: Keras model mapping inputs to ``(batch, d)`` representations.
        projector: projector spec.
        mu: μ, the squared radius of the ball the embeddings are projected onto.
    """

    spectral_counterpart = "spectral_contrastive_embedding"

    def __init__(self, encoder, projector="2048-2048-128", mu=1.0, **kwargs):
        super().__init__(encoder, projector, **kwargs)
        self.mu = check_positive(mu, "mu")

    def compute_objective(self, outputs):
        return {"loss": spectral_contrastive(outputs["z_a"], outputs["z_b"], self.mu)}

    @classmethod
    def spectral_baseline(cls, graph, dim, features=None, **options):
        """The exact closed form: :class:`~kspectral.spectral.SpectralContrastiveEmbedding` (nonparametric)
        or :class:`~kspectral.spectral.LinearSpectralContrastive` (with ``features``), fitted on ``graph``."""
        from kspectral.spectral import LinearSpectralContrastive, SpectralContrastiveEmbedding

        if features is None:
            return SpectralContrastiveEmbedding(dim, graph="precomputed", **options).fit(graph)
        return LinearSpectralContrastive(dim, **options).fit(features, graph=graph)

    def get_config(self):
        config = super().get_config()
        config.update(mu=self.mu)
        return config
