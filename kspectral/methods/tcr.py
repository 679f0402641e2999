"""Total coding rate (TCR) as a Keras model."""

from __future__ import annotations

import keras

from kspectral._validation import check_nonnegative, check_positive
from kspectral.methods.base import SSLModel
from kspectral.methods.registry import register
from kspectral.objectives.tcr import DEFAULT_EPSILON, tcr


@register("tcr")
@keras.saving.register_keras_serializable(package="kspectral")
class TCR(SSLModel):
    """TCR: maximise the coding rate of both views, keep them aligned (EMP-SSL's objective with two views, Tong et
    al. 2023, arXiv:2304.03977; the coding rate of MCR², Yu et al. 2020).

    The loss is :func:`kspectral.objectives.tcr`; the metrics report ``coding_rate`` (to maximise) and
    ``invariance``.

    Spectral counterpart: dimension-contrastive (Garrido et al. 2023, arXiv:2206.02574, Prop. 3.2), so VICReg's
    closed form, by analogy (:mod:`kspectral.spectral.baselines`).

    Args:
        encoder, projector: as :class:`~kspectral.methods.SSLModel`.
        epsilon: ε of the coding rate (EMP-SSL's ``ε² = 0.2``).
        invariance_weight: w (EMP-SSL's 200).
    """

    objective_function = staticmethod(tcr)
    objective_options = ("epsilon", "invariance_weight")
    loss_terms = ("coding_rate", "invariance")

    def __init__(self, encoder, projector="2048-2048-2048", epsilon=DEFAULT_EPSILON, invariance_weight=200.0,
                 **kwargs):
        super().__init__(encoder, projector, **kwargs)
        self.epsilon = check_positive(epsilon, "epsilon")
        self.invariance_weight = check_nonnegative(invariance_weight, "invariance_weight")
