"""VICReg as a Keras model, with its closed-form spectral counterpart (Laplacian eigenmaps / linear LPP)."""

from __future__ import annotations

import keras

from kspectral.methods.base import SSLModel
from kspectral.methods.registry import register
from kspectral.objectives.vicreg import vicreg_ctr_terms, vicreg_exp_terms, vicreg_terms
from kspectral.objectives._common import check_nonnegative, check_positive


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
        self.invariance_weight = check_nonnegative(invariance_weight, "invariance_weight")
        self.variance_weight = check_nonnegative(variance_weight, "variance_weight")
        self.covariance_weight = check_nonnegative(covariance_weight, "covariance_weight")
        self.epsilon = check_positive(epsilon, "epsilon")

    def objective_terms(self, z_a, z_b):
        """The unweighted invariance, variance and covariance terms."""
        return vicreg_terms(z_a, z_b, self.epsilon)

    def compute_objective(self, outputs):
        terms = self.objective_terms(outputs["z_a"], outputs["z_b"])
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


@register("vicreg_exp")
@keras.saving.register_keras_serializable(package="kspectral")
class VICRegExp(VICReg):
    """VICReg-exp (Garrido et al. 2023, Eqs. 11-12): VICReg with a log-sum-exp covariance penalty.

    ``c_exp(K) = (1/d) Σ_i log Σ_{j≠i} exp(C(K)_ij / τ)`` replaces ``Σ_{k≠l} C_kl² / D``; invariance and variance
    are VICReg's (:func:`kspectral.objectives.vicreg_exp`, whose docstring gives the scaling relative to Eq. 12).
    Table S6's hyper-parameters were not available: the defaults (λ = μ = 25, ν = 1, τ = 0.1) are kspectral's
    choice, checked not to collapse on digits (τ = 0.5 was reported to collapse elsewhere).

    Spectral counterpart: still dimension-contrastive, with the same whitening constraint in the hard limit, so
    the same closed form as :class:`VICReg` (Laplacian eigenmaps / linear LPP-type); an analogy through
    Garrido et al.'s interpolation path, not a theorem.

    Args:
        encoder, projector, invariance_weight, variance_weight, covariance_weight, epsilon: as :class:`VICReg`.
        temperature: τ of the log-sum-exp.
    """

    def __init__(self, encoder, projector="2048-2048-2048", invariance_weight=25.0, variance_weight=25.0,
                 covariance_weight=1.0, temperature=0.1, epsilon=1e-4, **kwargs):
        super().__init__(encoder, projector, invariance_weight, variance_weight, covariance_weight, epsilon, **kwargs)
        self.temperature = check_positive(temperature, "temperature")

    def objective_terms(self, z_a, z_b):
        return vicreg_exp_terms(z_a, z_b, self.temperature, self.epsilon)

    def get_config(self):
        config = super().get_config()
        config.update(temperature=self.temperature)
        return config


@register("vicreg_ctr")
@keras.saving.register_keras_serializable(package="kspectral")
class VICRegCtr(VICRegExp):
    """VICReg-ctr (Garrido et al. 2023, Eq. 13): VICReg-exp on the transposed embeddings, sample-contrastive.

    ``v(Kᵀ)`` regularises the embeddings' norms and ``c_exp(Kᵀ)`` penalises the Gram matrix with DCL's repulsion
    (:func:`kspectral.objectives.vicreg_ctr`, whose docstring resolves Eq. 13's open points). Defaults
    (λ = 10, μ = 25, ν = 1, τ = 0.1) are kspectral's choice (Table S6 unavailable), checked on digits.

    Spectral counterpart: sample-contrastive, so the global family of :class:`~kspectral.methods.SimCLR`
    (an analogy; see :func:`~kspectral.methods.simclr.global_spectral_baseline`).

    Args:
        center_dimensions: centre each dimension before transposing (Table 1's "dims centred" reading).
    """

    spectral_counterpart = "isomap"

    def __init__(self, encoder, projector="2048-2048-2048", invariance_weight=10.0, variance_weight=25.0,
                 covariance_weight=1.0, temperature=0.1, epsilon=1e-4, center_dimensions=False, **kwargs):
        super().__init__(encoder, projector, invariance_weight, variance_weight, covariance_weight, temperature,
                         epsilon, **kwargs)
        self.center_dimensions = bool(center_dimensions)

    def objective_terms(self, z_a, z_b):
        return vicreg_ctr_terms(z_a, z_b, self.temperature, self.epsilon, self.center_dimensions)

    @classmethod
    def spectral_baseline(cls, graph, dim, features=None, **options):
        """See :func:`~kspectral.methods.simclr.global_spectral_baseline` (an analogy)."""
        from kspectral.methods.simclr import global_spectral_baseline

        return global_spectral_baseline(graph, dim, features, **options)

    def get_config(self):
        config = super().get_config()
        config.update(center_dimensions=self.center_dimensions)
        return config
