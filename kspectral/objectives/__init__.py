"""SSL objectives as pure ``keras.ops`` functions, plus Keras losses that call them.

Every function takes batch-first ``(batch, dim)`` tensors and returns one scalar per batch (the objectives are batch
statistics), computed in float32 (float64 inputs stay float64); ``return_terms=True`` returns
``{"loss": ..., <term>: ...}`` instead. Hyper-parameters are keyword arguments named as in the method classes of
:mod:`kspectral.methods`. The functions are registered for ``.keras`` saving where they are defined, so
``SSLModel(encoder, objective=vicreg)`` saves and loads. The maths knows nothing of devices: under ``tf.distribute``
the model gathers the replicas' embeddings first and then calls these functions on the global batch.
"""

from kspectral.objectives.barlow_twins import BarlowTwinsLoss, barlow_twins, batch_standardize, cross_correlation
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
from kspectral.objectives.dino import dino, dino_pairs
from kspectral.objectives.dissl import DISSLLoss, dissl
from kspectral.objectives.moco import mocov2, mocov3
from kspectral.objectives.nnclr import nearest_neighbours, nnclr
from kspectral.objectives.predictive import byol, simsiam
from kspectral.objectives.simclr import (
    DCLLoss,
    SimCLRLoss,
    dcl,
    simclr,
    simclr_multiview,
    simclr_official,
    standardize_dimensions,
)
from kspectral.objectives.swav import prototype_usage_entropy, sinkhorn, swav
from kspectral.objectives.spectral_contrastive import SpectralContrastiveLoss, project_to_ball, spectral_contrastive
from kspectral.objectives.tcr import TCRLoss, coding_rate, tcr
from kspectral.objectives.tensors import as_float, l2_normalize, off_diagonal_square_sum
from kspectral.objectives.vicreg import (
    VICRegCtrLoss,
    VICRegExpLoss,
    VICRegLoss,
    covariance_term,
    exp_covariance_term,
    invariance_term,
    variance_term,
    vicreg,
    vicreg_ctr,
    vicreg_exp,
)
from kspectral.objectives.views import join_views, split_views

__all__ = [
    "BarlowTwinsLoss",
    "CISSLLoss",
    "DCLLoss",
    "DISSLLoss",
    "SimCLRLoss",
    "SpectralContrastiveLoss",
    "TCRLoss",
    "VICRegCtrLoss",
    "VICRegExpLoss",
    "VICRegLoss",
    "as_float",
    "barlow_twins",
    "batch_standardize",
    "byol",
    "cissl",
    "coding_rate",
    "covariance_term",
    "cross_correlation",
    "dcl",
    "dimension_contrastive",
    "dino",
    "dino_pairs",
    "dimension_norms4",
    "dissl",
    "double_normalize",
    "duality_gap",
    "exp_covariance_term",
    "invariance_term",
    "join_views",
    "l2_normalize",
    "mocov2",
    "mocov3",
    "nearest_neighbours",
    "nnclr",
    "off_diagonal_square_sum",
    "project_to_ball",
    "regularizer_lreg",
    "sample_contrastive",
    "sample_norms4",
    "simclr",
    "simclr_multiview",
    "simclr_official",
    "simsiam",
    "spectral_contrastive",
    "split_views",
    "prototype_usage_entropy",
    "sinkhorn",
    "swav",
    "standardize_dimensions",
    "tcr",
    "variance_term",
    "vicreg",
    "vicreg_ctr",
    "vicreg_exp",
]
