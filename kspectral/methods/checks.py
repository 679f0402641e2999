"""The checks :class:`kspectral.methods.SSLModel` makes of what it is built from, and their messages."""

from __future__ import annotations

import warnings

import keras

from kspectral.errors import InputError


def require_tensorflow_backend():
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"kspectral models train on the TensorFlow backend, but Keras uses {keras.backend.backend()!r}; "
            "set KERAS_BACKEND=tensorflow before importing keras"
        )


def check_serializable(objective):
    """Refuse an objective that a ``.keras`` file could not restore (lambdas, unregistered functions)."""
    try:
        with warnings.catch_warnings():  # Keras warns about lambdas; the error below says it better
            warnings.simplefilter("ignore")
            restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(objective))
    except Exception:  # noqa: BLE001 - any failure means the same thing to the user
        restored = None
    if restored is not objective:
        name = getattr(objective, "__name__", type(objective).__name__)
        raise InputError(
            f"objective {name!r} cannot be saved with the model: decorate it with "
            "@keras.saving.register_keras_serializable() (kspectral's objective functions already are)"
        )


def views_error(model, count):
    """The message for a batch of ``count`` views given to a model that takes at most ``model.view_limit()``."""
    from kspectral.methods.registry import multiview_names

    return (f"{type(model).__name__} trains on at most {model.view_limit()} views, got {count} (a multi-crop "
            f"batch?); use a two-view augmentation (e.g. --augment cifar) or a method that takes more views "
            f"({', '.join(multiview_names())})")


def representation_shape_error(shape):
    """The message for an encoder whose output is not ``(batch, dim)``, with the fix that suits its rank."""
    start = f"the encoder must return (batch, dim) representations, but it returns shape {shape}"
    if len(shape) == 3:
        return (f"{start}, a sequence of tokens (batch, tokens, d); end it with "
                "keras.layers.GlobalAveragePooling1D() (the mean over the tokens), or return the class token x[:, 0] "
                "(in your model's call or a registered layer: kspectral refuses Lambda layers when loading)")
    if len(shape) == 4:
        return (f"{start}, a feature map (batch, height, width, channels); end it with "
                "keras.layers.GlobalAveragePooling2D() or Flatten()")
    return f"{start}; end it with a pooling layer (GlobalAveragePooling1D/2D/3D) or Flatten()"
