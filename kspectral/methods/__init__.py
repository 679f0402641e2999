"""SSL methods as Keras models: ``SSLModel`` and one subclass per method, all trainable with ``fit()``.

The registry: ``get(name)`` returns a method class by its canonical name or an alias (``simclr_abs`` is
``SimCLR(negatives="abs")``), ``resolve(name)`` the class and the alias's options, ``create(name, encoder,
**options)`` builds the model, ``names()`` / ``canonical_names()`` list them (the TF-free list is
:mod:`kspectral.catalog`). Each class calls its objective function of :mod:`kspectral.objectives`, and
``spectral_baseline(graph, dim, features=None)`` / ``spectral_counterpart(regime)`` give its closed-form counterpart
(:mod:`kspectral.spectral.baselines`).
"""

from kspectral._validation import parse_widths
from kspectral.methods.barlow_twins import BarlowTwins
from kspectral.methods.base import SSLModel
from kspectral.methods.cissl import CISSL
from kspectral.methods.dino import DINO
from kspectral.methods.dissl import DISSL
from kspectral.methods.nnclr import NNCLR
from kspectral.methods.predictive import BYOL, SimSiam
from kspectral.methods.moco import MoCoV2, MoCoV3
from kspectral.methods.projector import Projector, make_projector
from kspectral.methods.registry import canonical_names, create, get, names, register, resolve
from kspectral.methods.simclr import DCL, SimCLR
from kspectral.methods.spectral_contrastive import SpectralContrastive
from kspectral.methods.swav import SwAV
from kspectral.methods.tcr import TCR
from kspectral.methods.two_heads import TwoHeadModel
from kspectral.methods.vicreg import VICReg, VICRegCtr, VICRegExp

# A saved model may hold kspectral's optimizer and schedule (LARS, WarmupCosine) and augmentation layers (device
# augmentation): importing them registers them, so that `import kspectral.methods` is all `load_model` needs.
import kspectral.data.augmentations  # noqa: E402, F401
import kspectral.optimizers  # noqa: E402, F401

__all__ = [
    "BYOL",
    "SimSiam",
    "CISSL",
    "DCL",
    "DINO",
    "DISSL",
    "NNCLR",
    "MoCoV2",
    "MoCoV3",
    "TCR",
    "BarlowTwins",
    "Projector",
    "SSLModel",
    "SimCLR",
    "SpectralContrastive",
    "SwAV",
    "TwoHeadModel",
    "VICReg",
    "VICRegCtr",
    "VICRegExp",
    "canonical_names",
    "create",
    "get",
    "make_projector",
    "names",
    "parse_widths",
    "register",
    "resolve",
]
