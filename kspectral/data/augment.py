"""Augmentation presets built from Keras preprocessing layers.

An augmenter is a ``keras.Sequential`` of random layers, applied with ``training=True`` inside ``tf.data``
(:func:`kspectral.data.augmented_pairs`) so that each call draws new random transformations. Presets are
serializable Keras models.
"""

from __future__ import annotations

import keras


def digits_augmenter(shift=0.125, zoom=0.15, rotation=0.03, noise=0.05, seed=None):
    """Augmentations for 8×8 digits: random shift (±1 px), zoom/crop, small rotation and Gaussian noise.

    Args:
        shift: maximum translation as a fraction of the side (0.125 = one pixel of eight).
        zoom: maximum zoom in or out, as a fraction (zooming in crops).
        rotation: maximum rotation as a fraction of a full turn (0.03 ≈ 11°).
        noise: standard deviation of the additive Gaussian noise (images are in ``[0, 1]``).
        seed: seed of the random layers (``None``: nondeterministic).
    """
    layers = [
        keras.layers.RandomTranslation(shift, shift, fill_mode="constant", seed=seed, name="shift"),
        keras.layers.RandomZoom((-zoom, zoom), fill_mode="constant", seed=seed, name="zoom"),
        keras.layers.RandomRotation(rotation, fill_mode="constant", seed=seed, name="rotation"),
    ]
    if noise > 0:
        layers.append(keras.layers.GaussianNoise(noise, seed=seed, name="noise"))
    return keras.Sequential(layers, name="digits_augmenter")


AUGMENTERS = {"digits": digits_augmenter}


def augmenter(name, **kwargs):
    """An augmentation preset by name (``"digits"``)."""
    if name not in AUGMENTERS:
        raise ValueError(f"unknown augmentation preset {name!r}; choose one of: {', '.join(AUGMENTERS)}")
    return AUGMENTERS[name](**kwargs)
