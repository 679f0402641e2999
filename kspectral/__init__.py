"""kspectral: self-supervised learning for Keras 3, with the spectral embedding each loss recovers.

Submodules load on first use, so ``import kspectral.spectral`` (numpy/scipy only) does not import TensorFlow:

- :mod:`kspectral.objectives`: SSL losses as pure ``keras.ops`` functions and serializable Keras losses.
- :mod:`kspectral.methods`: ``SSLModel`` and one Keras model per method, trainable with ``fit()``.
- :mod:`kspectral.spectral`: positive-pair graphs, Laplacians and the closed-form optima of the losses.
- :mod:`kspectral.data`: datasets (built in, TFDS, image folders, arrays), augmentation presets and ``tf.data``
  pipelines of positive pairs.
- :mod:`kspectral.encoders`: backbones by name (MLP, convnet, ResNets, ``keras.applications``).
- :mod:`kspectral.optimizers`: LARS, the warm-up cosine schedule, optimizers by name.
- :mod:`kspectral.probes`: linear, kNN and MLP probes on frozen representations.
- :mod:`kspectral.callbacks`: the online probe monitor.
- :mod:`kspectral.plots`: PNGs of a run and grids of augmented views.
- :mod:`kspectral.runs`: the train / probe / spectral workflows behind the ``kspectral`` command.
- :mod:`kspectral.distribute`: ``tf.distribute`` strategies by name, logical CPU devices, multi-worker helpers.
- :mod:`kspectral.catalog`: method names and aliases, and the names of the other registries, readable without
  TensorFlow.
- :mod:`kspectral.config`: the run configuration ``RunConfig``, each field declared once with its CLI flag.
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = (
    "objectives", "methods", "spectral", "data", "probes", "encoders", "runs", "recipes", "catalog", "optimizers",
    "callbacks", "plots", "distribute", "config",
)


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"kspectral.{name}")
    raise AttributeError(f"module 'kspectral' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_SUBMODULES])
