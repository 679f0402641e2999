"""VICReg and its variants VICReg-exp and VICReg-ctr as Keras models."""

from __future__ import annotations

import keras

from kspectral._validation import check_nonnegative, check_positive
from kspectral.catalog import VICREG
from kspectral.methods.base import SSLModel
from kspectral.methods.registry import register
from kspectral.objectives.vicreg import vicreg, vicreg_ctr, vicreg_exp


@register("vicreg")
@keras.saving.register_keras_serializable(package="kspectral")
class VICReg(SSLModel):
    """VICReg (Bardes, Ponce & LeCun 2022, arXiv:2105.04906, Eq. 6), trained on two views with ``fit()``.

    The loss is :func:`kspectral.objectives.vicreg` (the official code's scaling); the metrics report its
    unweighted ``invariance``, ``variance`` and ``covariance`` terms.

    Spectral counterpart: the invariance term is the Dirichlet energy ``tr(ZᵀLZ)`` of the positive-pair graph
    (Balestriero & LeCun 2022, arXiv:2205.11508), so in the hard-constraint limit VICReg's optimum is Laplacian
    eigenmaps, and in the linear regime an LPP-type generalised eigenproblem
    (:meth:`~kspectral.methods.SSLModel.spectral_baseline`, :mod:`kspectral.spectral.baselines`).

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

    objective_function = staticmethod(vicreg)
    objective_options = ("invariance_weight", "variance_weight", "covariance_weight", "epsilon")
    loss_terms = ("invariance", "variance", "covariance")

    def __init__(self, encoder, projector="2048-2048-2048", invariance_weight=VICREG.invariance_weight,
                 variance_weight=VICREG.variance_weight, covariance_weight=VICREG.covariance_weight,
                 epsilon=VICREG.epsilon, **kwargs):
        super().__init__(encoder, projector, **kwargs)
        self.invariance_weight = check_nonnegative(invariance_weight, "invariance_weight")
        self.variance_weight = check_nonnegative(variance_weight, "variance_weight")
        self.covariance_weight = check_nonnegative(covariance_weight, "covariance_weight")
        self.epsilon = check_positive(epsilon, "epsilon")


@register("vicreg_exp")
@keras.saving.register_keras_serializable(package="kspectral")
class VICRegExp(VICReg):
    """VICReg-exp (Garrido et al. 2023, arXiv:2206.02574, Eqs. 11-12): VICReg with a log-sum-exp covariance penalty.

    The loss is :func:`kspectral.objectives.vicreg_exp` (its docstring gives the scaling relative to Eq. 12 and why
    the defaults, a kspectral choice, are λ = μ = 25, ν = 1, τ = 0.1).

    Spectral counterpart: still dimension-contrastive with VICReg's invariance term and whitening target, so
    VICReg's closed form, by analogy (:mod:`kspectral.spectral.baselines`).

    Args:
        encoder, projector, invariance_weight, variance_weight, covariance_weight, epsilon: as :class:`VICReg`.
        temperature: τ of the log-sum-exp.
    """

    objective_function = staticmethod(vicreg_exp)
    objective_options = (*VICReg.objective_options, "temperature")

    def __init__(self, encoder, projector="2048-2048-2048", invariance_weight=VICREG.invariance_weight,
                 variance_weight=VICREG.variance_weight, covariance_weight=VICREG.covariance_weight, temperature=0.1,
                 epsilon=VICREG.epsilon, **kwargs):
        super().__init__(encoder, projector, invariance_weight, variance_weight, covariance_weight, epsilon, **kwargs)
        self.temperature = check_positive(temperature, "temperature")


@register("vicreg_ctr")
@keras.saving.register_keras_serializable(package="kspectral")
class VICRegCtr(VICRegExp):
    """VICReg-ctr (Garrido et al. 2023, arXiv:2206.02574, Eq. 13): VICReg-exp on the transposed embeddings.

    A sample-contrastive loss: ``v(Kᵀ)`` regularises the embeddings' norms and ``c_exp(Kᵀ)`` penalises their Gram
    matrix with DCL's repulsion (:func:`kspectral.objectives.vicreg_ctr`, whose docstring settles Eq. 13's open
    points and gives the defaults, a kspectral choice: λ = 10, μ = 25, ν = 1, τ = 0.1).

    Spectral counterpart: the global (sample-contrastive) family of :class:`~kspectral.methods.SimCLR`, by analogy
    (:mod:`kspectral.spectral.baselines`).

    Args:
        encoder, projector, invariance_weight, variance_weight, covariance_weight, temperature, epsilon: as
            :class:`VICRegExp`.
        center_dimensions: centre each dimension before transposing (Table 1's "dims centred" reading).
    """

    objective_function = staticmethod(vicreg_ctr)
    objective_options = (*VICRegExp.objective_options, "center_dimensions")

    def __init__(self, encoder, projector="2048-2048-2048", invariance_weight=10.0,
                 variance_weight=VICREG.variance_weight, covariance_weight=VICREG.covariance_weight, temperature=0.1,
                 epsilon=VICREG.epsilon, center_dimensions=False, **kwargs):
        super().__init__(encoder, projector, invariance_weight, variance_weight, covariance_weight, temperature,
                         epsilon, **kwargs)
        self.center_dimensions = bool(center_dimensions)
