"""SSL objectives as pure ``keras.ops`` functions plus serializable Keras losses.

Every function takes batch-first ``(batch, dim)`` tensors and returns a scalar, computed in float32 (float64
inputs stay float64). The maths knows nothing of devices: under ``tf.distribute`` the model gathers the
replicas' embeddings first and then calls these functions on the global batch.
"""

from kspectral.objectives.barlow_twins import BarlowTwinsLoss, barlow_twins, barlow_twins_terms, cross_correlation
from kspectral.objectives.cissl import CISSLLoss, cissl
from kspectral.objectives.criteria import (
    dimension_contrastive,
    dimension_norms4,
    double_normalize,
    duality_gap,
    regularizer_lreg,
    sample_contrastive,
    sample_norms4,
)
from kspectral.objectives.dissl import DISSLLoss, dissl, dissl_terms
from kspectral.objectives.simclr import (
    DCLLoss,
    SimCLRLoss,
    dcl,
    dcl_abs,
    dcl_sq,
    simclr,
    simclr_abs,
    simclr_centered,
    simclr_official,
    simclr_sq,
    simclr_standardized,
)
from kspectral.objectives.spectral_contrastive import SpectralContrastiveLoss, spectral_contrastive
from kspectral.objectives.tcr import TCRLoss, coding_rate, tcr, tcr_terms
from kspectral.objectives.vicreg import (
    VICRegCtrLoss,
    VICRegExpLoss,
    VICRegLoss,
    exp_covariance_term,
    vicreg,
    vicreg_ctr,
    vicreg_ctr_terms,
    vicreg_exp,
    vicreg_exp_terms,
    vicreg_terms,
)

import types as _types

import keras as _keras

# Registered so that a plain ``SSLModel(encoder, objective=vicreg)`` saves to and loads from ``.keras``.
for _objective in (vicreg, vicreg_exp, vicreg_ctr, barlow_twins, tcr, simclr, simclr_abs, simclr_sq, simclr_centered,
                   simclr_standardized, simclr_official, dcl, dcl_abs, dcl_sq, spectral_contrastive):
    _keras.saving.register_keras_serializable(package="kspectral")(_objective)

__all__ = sorted(n for n, v in dict(globals()).items() if not n.startswith("_") and not isinstance(v, _types.ModuleType))
