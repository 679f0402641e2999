"""SSL objectives as pure ``keras.ops`` functions plus serializable Keras losses.

Every function takes batch-first ``(batch, dim)`` tensors and returns a scalar, computed in float32 (float64
inputs stay float64). The maths knows nothing of devices: under ``tf.distribute`` the model gathers the
replicas' embeddings first and then calls these functions on the global batch.
"""

from kspectral.objectives.criteria import (
    dimension_contrastive,
    dimension_norms4,
    duality_gap,
    sample_contrastive,
    sample_norms4,
)
from kspectral.objectives.vicreg import VICRegLoss, vicreg, vicreg_terms

__all__ = [
    "VICRegLoss",
    "dimension_contrastive",
    "dimension_norms4",
    "duality_gap",
    "sample_contrastive",
    "sample_norms4",
    "vicreg",
    "vicreg_terms",
]
