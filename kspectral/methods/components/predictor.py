"""``Predictor``: the MLP head that maps one branch's projection to a prediction of the other's (BYOL, SimSiam,
MoCo v3, NNCLR)."""

from __future__ import annotations

import keras

from kspectral.methods.projector import Projector


@keras.saving.register_keras_serializable(package="kspectral")
class Predictor(Projector):
    """An MLP ``(Linear-BN-ReLU) × (n − 1)`` then ``Linear``, on top of the projector of the online branch.

    The architecture of :class:`~kspectral.methods.Projector` (its options too); a class of its own so that a model
    names its heads by role. BYOL's predictor is ``"4096-256"`` (Grill et al. 2020, arXiv:2006.07733, §3.3),
    SimSiam's ``"512-2048"`` (Chen & He 2021, arXiv:2011.10566, §4.3).

    Example:
        >>> import numpy as np
        >>> tuple(Predictor("16-4")(np.zeros((2, 4), "float32")).shape)
        (2, 4)
    """

    def __init__(self, spec="4096-256", last_bias=True, **kwargs):
        kwargs.setdefault("name", "predictor")
        super().__init__(spec, last_bias=last_bias, **kwargs)
