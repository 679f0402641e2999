"""SSL methods as Keras models: ``SSLModel`` and one subclass per method, all trainable with ``fit()``.

``kspectral.methods.get(name)`` returns a method class by its registry name; ``names()`` lists them. Each class
writes its loss as the paper does, names its spectral counterpart (``spectral_counterpart``) and computes it
with ``spectral_baseline(graph, dim, features=None)``.
"""

from kspectral.methods.barlow_twins import BarlowTwins
from kspectral.methods.base import SSLModel
from kspectral.methods.cissl import CISSL
from kspectral.methods.dissl import DISSL
from kspectral.methods.projector import Projector, make_projector, parse_widths
from kspectral.methods.registry import get, names, register
from kspectral.methods.simclr import DCL, SimCLR, SimCLRAbs, SimCLRCentered, SimCLRSq, SimCLRStandardized
from kspectral.methods.spectral_contrastive import SpectralContrastive
from kspectral.methods.tcr import TCR
from kspectral.methods.vicreg import VICReg, VICRegCtr, VICRegExp

__all__ = [
    "CISSL",
    "DCL",
    "DISSL",
    "BarlowTwins",
    "TCR",
    "VICRegCtr",
    "VICRegExp",
    "Projector",
    "SSLModel",
    "SimCLR",
    "SimCLRAbs",
    "SimCLRCentered",
    "SimCLRSq",
    "SimCLRStandardized",
    "SpectralContrastive",
    "VICReg",
    "get",
    "make_projector",
    "names",
    "parse_widths",
    "register",
]
