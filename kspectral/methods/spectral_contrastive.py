"""Spectral contrastive learning (HaoChen et al. 2021) as a Keras model."""

from __future__ import annotations

import keras

from kspectral._validation import check_positive
from kspectral.methods.base import SSLModel
from kspectral.methods.registry import register
from kspectral.objectives.spectral_contrastive import spectral_contrastive


@register("spectral_contrastive")
@keras.saving.register_keras_serializable(package="kspectral")
class SpectralContrastive(SSLModel):
    """Spectral contrastive loss (HaoChen, Wei, Gaidon & Ma 2021, arXiv:2106.04156), as the authors' code.

    The loss is :func:`kspectral.objectives.spectral_contrastive`: embeddings projected onto the ball of radius
    ``√μ``, the sum divided by ``μ`` as the authors' ``D()`` does (``divide_by_mu=False``: ``μ ×`` that value).

    Spectral counterpart, a theorem of the paper: the loss is a low-rank factorisation of the normalised adjacency
    of the positive-pair graph, so its optimum is given by the top-K eigenvectors of ``D^{-1/2} G D^{-1/2}``
    (Eckart–Young); in the linear regime ``G`` is first projected onto ``span X`` (:mod:`kspectral.spectral.baselines`).

    Args:
        encoder: Keras model mapping inputs to ``(batch, d)`` representations.
        projector: projector spec.
        mu: μ, the squared radius of the ball the embeddings are projected onto.
        divide_by_mu: divide the loss by μ, as the authors' code does.
    """

    objective_function = staticmethod(spectral_contrastive)
    objective_options = ("mu", "divide_by_mu")

    def __init__(self, encoder, projector="2048-2048-128", mu=1.0, divide_by_mu=True, **kwargs):
        super().__init__(encoder, projector, **kwargs)
        self.mu = check_positive(mu, "mu")
        self.divide_by_mu = bool(divide_by_mu)
