"""Projector heads built from spec strings such as ``"2048-2048-2048"``."""

from __future__ import annotations

import keras

from kspectral._validation import parse_widths


@keras.saving.register_keras_serializable(package="kspectral")
class Projector(keras.layers.Layer):
    """MLP projector: ``(Linear-BN-ReLU) × (n − 1)`` then a plain ``Linear`` (the VICReg / SimCLR head).

    ``"8192-8192-8192"`` is VICReg's official projector; ``"2048-128"`` a SimCLR-style head. The hidden
    ``Dense`` layers have no bias (the following BatchNorm has one); the last layer's bias is optional and off
    by default, as in the official VICReg and Barlow Twins heads.

    Args:
        spec: layer widths joined by ``-``, e.g. ``"512-512-512"``, or a sequence of ints.
        last_bias: give the last ``Dense`` a bias.
        last_batchnorm: end with a BatchNorm without scale and centre (SimCLR v2 / TF Similarity style).

    Input shape ``(batch, d)``; output shape ``(batch, widths[-1])``.

    Example:
        >>> import numpy as np
        >>> tuple(Projector("32-16")(np.zeros((4, 8), "float32")).shape)
        (4, 16)
    """

    def __init__(self, spec="2048-2048-2048", last_bias=False, last_batchnorm=False, **kwargs):
        super().__init__(**kwargs)
        self.widths = parse_widths(spec)
        self.spec = "-".join(str(w) for w in self.widths)
        self.last_bias = bool(last_bias)
        self.last_batchnorm = bool(last_batchnorm)
        self.blocks = []
        for i, width in enumerate(self.widths[:-1]):
            self.blocks += [
                keras.layers.Dense(width, use_bias=False, name=f"dense_{i}"),
                keras.layers.BatchNormalization(name=f"bn_{i}"),
                keras.layers.ReLU(name=f"relu_{i}"),
            ]
        last = len(self.widths) - 1
        self.blocks.append(keras.layers.Dense(self.widths[-1], use_bias=self.last_bias, name=f"dense_{last}"))
        if self.last_batchnorm:
            self.blocks.append(keras.layers.BatchNormalization(center=False, scale=False, name=f"bn_{last}"))

    @property
    def output_dim(self):
        return self.widths[-1]

    def build(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) != 2:
            raise ValueError(f"the projector takes (batch, dim) inputs, got shape {shape}")
        for layer in self.blocks:
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
        return config


def make_projector(spec, name="projector"):
    """A :class:`Projector` from a spec, an existing Keras layer as is, or ``None`` for no projector."""
    if spec is None or (isinstance(spec, str) and spec.strip().lower() in ("", "none")):
        return None
    if isinstance(spec, keras.layers.Layer):
        return spec
    return Projector(spec, name=name)
