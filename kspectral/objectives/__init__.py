"""SSL objectives as pure ``keras.ops`` functions plus serializable Keras losses.

Every function takes batch-first ``(batch, dim)`` tensors and returns a scalar, computed in float32 (float64
inputs stay float64). The maths knows nothing of devices: under ``tf.distribute`` the model gathers the
replicas' embeddings first and then calls these functions on the global batch.
"""

from kspectral.objectives.cissl import CISSLLoss, cissl
from kspectral.objectives.criteria import (
    dimension_contrastive,
    dimension_norms4,
    duality_gap,
    sample_contrastive,
    sample_norms4,
)
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
from kspectral.objectives.vicreg import VICRegLoss, vicreg, vicreg_terms

__all__ = [
    "CISSLLoss",
    "DCLLoss",
    "SimCLRLoss",
    "SpectralContrastiveLoss",
    "VICRegLoss",
    "cissl",
    "dcl",
    "dcl_abs",
    "dcl_sq",
    "simclr",
    "simclr_abs",
    "simclr_centered",
    "simclr_official",
    "simclr_sq",
    "simclr_standardized",
    "spectral_contrastive",
    "dimension_contrastive",
    "dimension_norms4",
    "duality_gap",
    "sample_contrastive",
    "sample_norms4",
    "vicreg",
    "vicreg_terms",
]
