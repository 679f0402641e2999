"""Projector heads built from spec strings such as ``"2048-2048-2048"``."""

from __future__ import annotations

import math

import keras

from kspectral._validation import parse_widths
from kspectral.errors import InputError


#: the layer defaults a :class:`Projector` can follow
LAYER_DEFAULTS = ("keras", "pytorch", "dino")
#: the activations of a :class:`Projector`'s hidden layers
ACTIVATIONS = ("relu", "gelu")


@keras.saving.register_keras_serializable(package="kspectral")
class Projector(keras.layers.Layer):
    """MLP projector: ``(Linear-BN-ReLU) × (n − 1)`` then a plain ``Linear`` (the VICReg / SimCLR head).

    ``"8192-8192-8192"`` is VICReg's official projector; ``"2048-128"`` a SimCLR-style head. The hidden
    ``Dense`` layers have no bias (the following BatchNorm has one, and a bias before BatchNorm changes nothing); the
    last layer's bias is optional and off by default, as in the official VICReg and Barlow Twins heads (solo-learn's
    heads have one). ``batchnorm=False`` gives ``(Linear-ReLU) × (n − 1)`` with biases, then ``Linear``: solo-learn's
    SimCLR projector (``Linear(2048)-ReLU-Linear(256)``, ``solo/methods/simclr.py``).

    Args:
        spec: layer widths joined by ``-``, e.g. ``"512-512-512"``, or a sequence of ints.
        last_bias: give the last ``Dense`` a bias.
        last_batchnorm: end with a BatchNorm without scale and centre (SimCLR v2 / TF Similarity style).
        batchnorm: put a BatchNorm after every hidden ``Dense``; ``False``: none, and the hidden ``Dense`` layers
            get biases.
        layer_defaults: ``"keras"`` (Keras' defaults: Glorot-uniform kernels, zero biases, BatchNorm ε = 1e-3 and
            momentum 0.99) or ``"pytorch"`` (PyTorch's ``nn.Linear`` and ``nn.BatchNorm1d`` defaults, as the heads of
            the official VICReg and Barlow Twins code and of solo-learn: kernels and biases ``U(±1/√fan_in)``,
            BatchNorm ε = 1e-5 and momentum 0.1, Keras' 0.9), or ``"dino"``: the DINO head's (``DINOHead._init_weights``
            of the official DINO and solo-learn code): kernels ``N(0, 0.02²)`` (``trunc_normal_(std=0.02)``, whose
            bounds ±2 lie 100 σ out), zero biases, PyTorch's BatchNorm ε and momentum.
        activation: the hidden layers' activation, ``"relu"`` or ``"gelu"`` (the exact, erf form, as PyTorch's
            ``nn.GELU``: the DINO head's).

    Input shape ``(batch, d)``; output shape ``(batch, widths[-1])``.

    Example:
        >>> import numpy as np
        >>> tuple(Projector("32-16")(np.zeros((4, 8), "float32")).shape)
        (4, 16)
    """

    def __init__(self, spec="2048-2048-2048", last_bias=False, last_batchnorm=False, batchnorm=True,
                 layer_defaults="keras", activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.widths = parse_widths(spec)
        self.spec = "-".join(str(w) for w in self.widths)
        self.last_bias = bool(last_bias)
        self.last_batchnorm = bool(last_batchnorm)
        self.batchnorm = bool(batchnorm)
        if layer_defaults not in LAYER_DEFAULTS:
            raise InputError(f"unknown layer_defaults {layer_defaults!r}; choose one of: {', '.join(LAYER_DEFAULTS)}")
        self.layer_defaults = layer_defaults
        if activation not in ACTIVATIONS:
            raise InputError(f"unknown activation {activation!r}; choose one of: {', '.join(ACTIVATIONS)}")
        self.activation = activation
        norm = {"epsilon": 1e-5, "momentum": 0.9} if layer_defaults in ("pytorch", "dino") else {}
        # the DINO head's initialisers are drawn here, one per layer, not at build: their seeds follow the construction
        # order, as those of Keras' own defaults
        def init():
            return {"kernel_initializer": keras.initializers.RandomNormal(stddev=0.02)} if layer_defaults == "dino" else {}

        self.blocks = []
        for i, width in enumerate(self.widths[:-1]):
            self.blocks.append(keras.layers.Dense(width, use_bias=not self.batchnorm, name=f"dense_{i}", **init()))
            if self.batchnorm:
                self.blocks.append(keras.layers.BatchNormalization(name=f"bn_{i}", **norm))
            if activation == "relu":
                self.blocks.append(keras.layers.ReLU(name=f"relu_{i}"))
            else:
                self.blocks.append(keras.layers.Activation(keras.activations.gelu, name=f"gelu_{i}"))
        last = len(self.widths) - 1
        self.blocks.append(keras.layers.Dense(self.widths[-1], use_bias=self.last_bias, name=f"dense_{last}", **init()))
        if self.last_batchnorm:
            self.blocks.append(keras.layers.BatchNormalization(center=False, scale=False, name=f"bn_{last}", **norm))

    @property
    def output_dim(self):
        return self.widths[-1]

    def build(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) != 2:
            raise InputError(f"the projector takes (batch, dim) inputs, got shape {shape}")
        for layer in self.blocks:
            if self.layer_defaults == "pytorch" and isinstance(layer, keras.layers.Dense) and not layer.built:
                # nn.Linear's reset_parameters: kaiming_uniform_(a=√5) for the weight, i.e. U(±1/√fan_in), and the same
                # bound for the bias
                bound = 1.0 / math.sqrt(shape[-1])
                layer.kernel_initializer = keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform")
                layer.bias_initializer = keras.initializers.RandomUniform(-bound, bound)
            layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, inputs, training=False):
        x = inputs
        for layer in self.blocks:
            x = layer(x, training=training)
        return x

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.widths[-1])

    def get_config(self):
        config = super().get_config()
        config.update(spec=self.spec, last_bias=self.last_bias, last_batchnorm=self.last_batchnorm)
        if not self.batchnorm:
            config["batchnorm"] = False
        if self.layer_defaults != "keras":
            config["layer_defaults"] = self.layer_defaults
        if self.activation != "relu":
            config["activation"] = self.activation
        return config


def make_projector(spec, name="projector", **options):
    """A :class:`Projector` from a spec (with ``options`` of :class:`Projector`), an existing Keras layer as is, or
    ``None`` for no projector."""
    if spec is None or (isinstance(spec, str) and spec.strip().lower() in ("", "none")):
        if options:
            raise InputError(f"projector options ({', '.join(options)}) need a projector spec")
        return None
    if isinstance(spec, keras.layers.Layer):
        if options:
            raise InputError(f"projector options ({', '.join(options)}) apply to a spec string, not to a given layer")
        return spec
    return Projector(spec, name=name, **options)
