"""SSL methods as Keras models: ``SSLModel`` and one subclass per method, all trainable with ``fit()``.

``kspectral.methods.get(name)`` returns a method class by its registry name; ``names()`` lists them.
"""

from kspectral.methods.base import SSLModel
from kspectral.methods.projector import Projector, make_projector, parse_widths
from kspectral.methods.registry import get, names, register
from kspectral.methods.vicreg import VICReg

__all__ = ["Projector", "SSLModel", "VICReg", "get", "make_projector", "names", "parse_widths", "register"]
