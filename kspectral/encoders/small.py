"""Small encoders for small images and flat features: an MLP and a plain convnet."""

from __future__ import annotations

import keras

from kspectral._validation import parse_widths


def mlp_encoder(input_shape, widths="512-256", synchronized=False, name="mlp_encoder"):
    """Flatten, then ``(Dense-BN-ReLU)`` blocks; the representation is the last block's output.

    Args:
        input_shape: shape of one input, e.g. ``(8, 8, 1)``.
        widths: block widths, e.g. ``"512-256"`` (the representation has ``widths[-1]`` dimensions).
        synchronized: synchronise BatchNorm statistics across replicas under a distribution strategy
            (``keras.layers.BatchNormalization(synchronized=True)``; :func:`~kspectral.encoders.build_encoder`
            turns it on).
        name: model name.
    """
    inputs = keras.Input(tuple(input_shape), name="inputs")
    x = keras.layers.Flatten(name="flatten")(inputs)
    for i, width in enumerate(parse_widths(widths, what="encoder")):
        x = keras.layers.Dense(width, use_bias=False, name=f"dense_{i}")(x)
        x = keras.layers.BatchNormalization(synchronized=bool(synchronized), name=f"bn_{i}")(x)
        x = keras.layers.ReLU(name=f"relu_{i}")(x)
    return keras.Model(inputs, x, name=name)


def conv_encoder(input_shape, widths="32-64-128", synchronized=False, name="conv_encoder"):
    """``(Conv3×3-BN-ReLU)`` blocks, downsampling by 2 after the first, then global average pooling.

    Args:
        input_shape: shape of one image, e.g. ``(32, 32, 3)``.
        widths: channels per block, e.g. ``"32-64-128"`` (the representation has ``widths[-1]`` dimensions).
        synchronized: synchronise BatchNorm statistics across replicas under a distribution strategy
            (``keras.layers.BatchNormalization(synchronized=True)``; :func:`~kspectral.encoders.build_encoder`
            turns it on).
        name: model name.
    """
    inputs = keras.Input(tuple(input_shape), name="inputs")
    x = inputs
    for i, width in enumerate(parse_widths(widths, what="encoder")):
        strides = 1 if i == 0 else 2
        x = keras.layers.Conv2D(width, 3, strides=strides, padding="same", use_bias=False, name=f"conv_{i}")(x)
        x = keras.layers.BatchNormalization(synchronized=bool(synchronized), name=f"bn_{i}")(x)
        x = keras.layers.ReLU(name=f"relu_{i}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, x, name=name)
