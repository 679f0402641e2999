"""Total coding rate (TCR) as a Keras model."""

from __future__ import annotations

import keras

from kspectral.methods.base import SSLModel
from kspectral.methods.registry import register
from kspectral.methods.vicreg import VICReg
from kspectral.objectives.tcr import DEFAULT_EPSILON, tcr_terms
from kspectral.objectives._common import check_nonnegative, check_positive


@register("tcr")
@keras.saving.register_keras_serializable(package="kspectral")
class TCR(SSLModel):
    """TCR (Li et al. 2022b; ``objectives.md`` A2 row 7): maximise the coding rate of both views, keep them aligned::

        R(z) = ½ logdet(I_M + (M / (N ε²)) ẑᵀẑ),        L = −(R(ẑ_a) + R(ẑ_b))/2 + w · mean_i(1 − cos(z_a,i, z_b,i))

    (:func:`kspectral.objectives.tcr`; the formula, ε² = 0.2 and w = 200 are marked unverified, see its
    docstring). Metrics: ``coding_rate`` and ``invariance``.

    Spectral counterpart: dimension-contrastive (Garrido et al., Prop. 3.2), so the same local family as
    :class:`~kspectral.methods.VICReg` (Laplacian eigenmaps / linear LPP-type); an analogy, not a theorem.

    Args:
        encoder, projector: as :class:`~kspectral.methods.SSLModel`.
        epsilon: ε of the coding rate.
        invariance_weight: w.
    """

    loss_terms = ("coding_rate", "invariance")
    spectral_counterpart = "laplacian_eigenmaps"

    def __init__(self, encoder, projector="2048-2048-2048", epsilon=DEFAULT_EPSILON, invariance_weight=200.0,
                 **kwargs):
        super().__init__(encoder, projector, **kwargs)
        self.epsilon = check_positive(epsilon, "epsilon")
        self.invariance_weight = check_nonnegative(invariance_weight, "invariance_weight")

    def compute_objective(self, outputs):
        terms = tcr_terms(outputs["z_a"], outputs["z_b"], self.epsilon)
        return {"loss": -terms["coding_rate"] + self.invariance_weight * terms["invariance"], **terms}

    @classmethod
    def spectral_baseline(cls, graph, dim, features=None, **options):
        """VICReg's closed form (see :meth:`kspectral.methods.VICReg.spectral_baseline`), an analogy here."""
        return VICReg.spectral_baseline(graph, dim, features, **options)

    def get_config(self):
        config = super().get_config()
        config.update(epsilon=self.epsilon, invariance_weight=self.invariance_weight)
        return config
