"""kspectral: self-supervised learning for Keras 3, with the spectral embedding each loss recovers.

Submodules load on first use, so ``import kspectral.spectral`` (numpy/scipy only) does not import TensorFlow:

- :mod:`kspectral.objectives`: SSL losses as pure ``keras.ops`` functions and serializable Keras losses.
- :mod:`kspectral.methods`: ``SSLModel`` and one Keras model per method, trainable with ``fit()``.
- :mod:`kspectral.spectral`: positive-pair graphs, Laplacians and the closed-form optima of the losses.
- :mod:`kspectral.data`: built-in datasets and ``tf.data`` pipelines of positive pairs.
- :mod:`kspectral.probes`: linear and kNN probes on frozen representations.
- :mod:`kspectral.runs`: the train / probe workflow behind the ``kspectral`` command.
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = ("objectives", "methods", "spectral", "data", "probes", "encoders", "runs", "recipes")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"kspectral.{name}")
    raise AttributeError(f"module 'kspectral' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_SUBMODULES])
