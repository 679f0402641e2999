"""VICReg as a Keras model, with its closed-form spectral counterpart (Laplacian eigenmaps / linear LPP)."""

from __future__ import annotations

import keras

from kspectral.methods.base import SSLModel
from kspectral.methods.registry import register
from kspectral.objectives.vicreg import vicreg_terms


@register("vicreg")
@keras.saving.register_keras_serializable(package="kspectral")
class VICReg(SSLModel):
    """VICReg (Bardes, Ponce & LeCun, 2022), trained on two views with ``fit()``.

    Loss (:func:`kspectral.objectives.vicreg`, the official code; ``objectives.md`` A2 row 5), with
    ``x = z_a``, ``y = z_b`` of shape ``(N, D)``::

        L = λ mean((x − y)²) + μ [v(x) + v(y)] / 2 + ν [c(x) + c(y)]
        v(x) = mean_k relu(1 − sqrt(Var x_k + ε)),   c(x) = Σ_{k≠l} Cov(x)_kl² / D

    Spectral counterpart (``theory.md`` §2, §3.2, §4): the invariance term is the Dirichlet energy
    ``tr(ZᵀLZ)`` of the positive-pair graph, so with large variance/covariance weights VICReg's optimum is
    **Laplacian eigenmaps** ``Z* = √N U_{2:K+1}`` (nonparametric), and in the linear regime ``Z = XW`` the
    LPP-type generalized eigenproblem ``XᵀLX w = ν XᵀHX w``. The map VICReg → Laplacian eigenmaps is the
    standard one, derived for this spec; the paper's own theorem text was not available.

    Args:
        encoder: Keras model mapping inputs to ``(batch, d)`` representations.
        projector: projector spec (official: ``"8192-8192-8192"``).
        invariance_weight: λ (official 25).
        variance_weight: μ (official 25).
        covariance_weight: ν (official 1).
        epsilon: ε in the standard deviation (official 1e-4).

    Example:
        >>> import keras
        >>> encoder = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32)])
        >>> model = VICReg(encoder=encoder, projector="64-64")
        >>> model.compile(optimizer="adam")
    """

    loss_terms = ("invariance", "variance", "covariance")
    spectral_counterpart = "laplacian_eigenmaps"

    def __init__(
        self,
        encoder,
        projector="2048-2048-2048",
        invariance_weight=25.0,
        variance_weight=25.0,
        covariance_weight=1.0,
        epsilon=1e-4,
        **kwargs,
    ):
        super().__init__(encoder, projector, **kwargs)
        self.invariance_weight = float(invariance_weight)
        self.variance_weight = float(variance_weight)
        self.covariance_weight = float(covariance_weight)
        self.epsilon = float(epsilon)

    def compute_objective(self, outputs):
        terms = vicreg_terms(outputs["z_a"], outputs["z_b"], self.epsilon)
        loss = (
            self.invariance_weight * terms["invariance"]
            + self.variance_weight * terms["variance"]
            + self.covariance_weight * terms["covariance"]
        )
        return {"loss": loss, **terms}

    @classmethod
    def spectral_baseline(cls, graph, dim, features=None, **options):
        """VICReg's closed form on ``graph``, as a fitted estimator.

        Args:
            graph: positive-pair graph ``G``, shape ``(N, N)``.
            dim: K, the embedding dimension.
            features: ``X`` of shape ``(N, D)`` for the linear regime; ``None`` for the nonparametric one.
            **options: passed to the estimator (``solver`` for Laplacian eigenmaps; ``variant``,
                ``invariance``, ``ridge`` for linear VICReg).

        Returns:
            A fitted :class:`~kspectral.spectral.LaplacianEigenmaps` (``embedding_`` = ``√N U_{2:K+1}``)
            without ``features``, else a fitted :class:`~kspectral.spectral.LinearVICReg` whose ``transform``
            applies ``W`` to new data.
        """
        from kspectral.spectral import LaplacianEigenmaps, LinearVICReg

        if features is None:
            return LaplacianEigenmaps(dim, graph="precomputed", **options).fit(graph)
        return LinearVICReg(dim, **options).fit(features, graph=graph)

    def get_config(self):
        config = super().get_config()
        config.update(
            invariance_weight=self.invariance_weight,
            variance_weight=self.variance_weight,
            covariance_weight=self.covariance_weight,
            epsilon=self.epsilon,
        )
        return config
