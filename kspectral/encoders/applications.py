"""Any ``keras.applications`` model as a randomly initialised, pooled backbone (``--encoder keras:NAME``)."""

from __future__ import annotations

import keras

from kspectral._validation import check_image_shape
from kspectral.errors import InputError


def application_names():
    """The model constructors ``keras.applications`` offers, e.g. ``["ConvNeXtBase", ..., "Xception"]``."""
    return sorted(
        name for name in dir(keras.applications) if name[:1].isupper() and callable(getattr(keras.applications, name))
    )


def _resolve(name):
    names = application_names()
    if name in names:
        return name
    by_lower = {n.lower(): n for n in names}
    if str(name).lower() in by_lower:
        return by_lower[str(name).lower()]
    examples = ", ".join(n for n in ("ResNet50", "MobileNetV2", "EfficientNetB0", "ConvNeXtTiny") if n in names)
    raise InputError(
        f"unknown keras.applications model {name!r}; valid names include {examples} "
        f"(all {len(names)}: {', '.join(names)})"
    )


def keras_application(name, input_shape, *, rescale_inputs=True, model_name=None):
    """A ``keras.applications`` model, randomly initialised, without its classifier, average-pooled.

    The application is built with ``weights=None`` (random initialisation: nothing is ever downloaded),
    ``include_top=False`` and ``pooling="avg"``, so it maps images to ``(batch, d)`` representations (e.g. ``d =
    2048`` for ``ResNet50``, ``1280`` for ``MobileNetV2``).

    Input range: ``keras.applications`` models expect pixels in ``[0, 255]``. ConvNeXt, EfficientNet(V2) and
    MobileNetV3 contain their own preprocessing layers that rescale and normalise from there; the others
    (ResNet, ResNetV2, MobileNet(V2), DenseNet, VGG, Inception, Xception, NASNet) expect the output of their
    module's ``preprocess_input``, which itself takes ``[0, 255]``. kspectral's datasets and augmentations give
    images in ``[0, 1]``, so by default a ``Rescaling(255)`` layer goes in front of the application; pass
    ``rescale_inputs=False`` when your images are already in ``[0, 255]``.

    Args:
        name: a constructor of ``keras.applications`` (case-insensitive), e.g. ``"ResNet50"``, ``"MobileNetV2"``;
            see :func:`application_names`.
        input_shape: ``(height, width, channels)`` of one image. Most applications need at least 32×32 (75×75
            for InceptionV3 and InceptionResNetV2); a size the application refuses raises ``ValueError``.
        rescale_inputs: put ``Rescaling(255)`` in front (inputs in ``[0, 1]``).
        model_name: name of the returned model (default ``"keras_<name>"``).

    Returns:
        A ``keras.Model`` from ``(batch, *input_shape)`` to ``(batch, d)``.

    Raises:
        ValueError: unknown ``name``, or an ``input_shape`` the application refuses.

    Example:
        >>> model = keras_application("MobileNetV2", (32, 32, 3))
        >>> model.output_shape
        (None, 1280)
    """
    resolved = _resolve(name)
    shape = check_image_shape(input_shape, f"keras.applications.{resolved}")
    if not isinstance(rescale_inputs, bool):
        raise TypeError(f"rescale_inputs must be True or False, got {rescale_inputs!r}")
    try:
        application = getattr(keras.applications, resolved)(
            include_top=False, weights=None, input_shape=shape, pooling="avg"
        )
    except ValueError as exc:
        raise InputError(
            f"keras.applications.{resolved} refuses input_shape={shape}: {exc}. "
            "Resize the images to a size it accepts or choose another encoder"
        ) from None
    inputs = keras.Input(shape, name="images")
    x = keras.layers.Rescaling(255.0, name="to_0_255")(inputs) if rescale_inputs else inputs
    outputs = application(x)
    return keras.Model(inputs, outputs, name=model_name or f"keras_{resolved}")


__all__ = ["application_names", "keras_application"]
