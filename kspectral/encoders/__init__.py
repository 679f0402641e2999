"""Built-in encoders (backbones), built by name for the CLI and recipes.

Any Keras model that maps inputs to ``(batch, d)`` representations can be an encoder; these are the ones
``kspectral train --encoder NAME`` builds:

- ``mlp`` and ``conv``: small networks for flat features and small images (:mod:`kspectral.encoders.small`);
- ``resnet18``, ``resnet34``, ``resnet50``: ResNets with the CIFAR or ImageNet stem
  (:mod:`kspectral.encoders.resnet`);
- ``keras:NAME``: any ``keras.applications`` model, randomly initialised and average-pooled
  (:mod:`kspectral.encoders.applications`).
"""

from __future__ import annotations

import inspect

from kspectral import catalog
from kspectral.encoders.applications import application_names, keras_application
from kspectral.encoders.resnet import STEMS, choose_stem, resnet18, resnet34, resnet50, resnet_encoder
from kspectral.encoders.small import conv_encoder, mlp_encoder
from kspectral.errors import InputError

#: Encoders by name; ``keras:NAME`` (any ``keras.applications`` model) is accepted on top of these.
ENCODERS = {
    "mlp": mlp_encoder,
    "conv": conv_encoder,
    "resnet18": resnet18,
    "resnet34": resnet34,
    "resnet50": resnet50,
}
catalog.check_registry("encoder", ENCODERS, catalog.ENCODERS)

#: Prefix of the encoder names that build a ``keras.applications`` model.
KERAS_PREFIX = "keras:"


def _options(function):
    parameters = inspect.signature(function).parameters.values()
    return sorted(p.name for p in parameters if p.default is not inspect.Parameter.empty and p.name != "name")


def build_encoder(name, input_shape, widths=None, *, stem=None, **kwargs):
    """A built-in encoder by name.

    Args:
        name: a key of :data:`ENCODERS` (``mlp``, ``conv``, ``resnet18``, ``resnet34``, ``resnet50``) or
            ``keras:NAME`` for a ``keras.applications`` model (e.g. ``keras:MobileNetV2``).
        input_shape: shape of one input, e.g. ``(32, 32, 3)``.
        widths: block widths (``mlp``, ``conv``) or the four stage widths (ResNets), e.g. ``"32-64-128"``;
            ``None`` keeps each encoder's default. ``keras:NAME`` takes none.
        stem: ``"auto"``, ``"cifar"`` or ``"imagenet"`` for the ResNets (``None`` means ``"auto"``); the other
            encoders have no stem and accept only ``None`` or ``"auto"``.
        **kwargs: further options of the encoder: ``zero_init_residual`` for the ResNets (see
            :func:`~kspectral.encoders.resnet.resnet_encoder`), ``synchronized`` for ``mlp``, ``conv`` and the
            ResNets, ``rescale_inputs`` for ``keras:NAME`` (see
            :func:`~kspectral.encoders.applications.keras_application`). ``synchronized`` defaults to ``True``
            here: the built-in encoders built by name average their BatchNorm statistics over the replicas of a
            distribution strategy, as the official VICReg and Barlow Twins code do (on one device only the
            rounding of the variance differs); ``keras:NAME`` models keep Keras' per-replica BatchNorm
            (synchronise them with ``SSLModel(sync_batchnorm="all")``).

    Returns:
        A ``keras.Model`` from ``(batch, *input_shape)`` to ``(batch, d)`` representations.

    Example:
        >>> build_encoder("resnet18", (32, 32, 3)).output_shape
        (None, 512)
    """
    if not isinstance(name, str):
        raise TypeError(f"encoder name must be a string, got {name!r}; pass a keras.Model directly from Python")
    if name.startswith(KERAS_PREFIX):
        if widths is not None:
            raise InputError(f"encoder {name!r} has fixed widths; drop the widths option ({widths!r})")
        if stem not in (None, "auto"):
            raise InputError(f"encoder {name!r} has its own stem; drop stem={stem!r}")
        function, args = keras_application, (name[len(KERAS_PREFIX) :], input_shape)
    elif name in ENCODERS:
        function, args = ENCODERS[name], (input_shape,)
        if name.startswith("resnet"):
            kwargs["stem"] = "auto" if stem is None else stem
        elif stem not in (None, "auto"):
            raise InputError(f"encoder {name!r} has no stem option (only the ResNets do); drop stem={stem!r}")
        if widths is not None:
            kwargs["widths"] = widths
        kwargs.setdefault("synchronized", True)
    else:
        raise InputError(
            f"unknown encoder {name!r}; choose one of: {', '.join(ENCODERS)}, or keras:NAME for a "
            "keras.applications model (e.g. keras:ResNet50, keras:MobileNetV2)"
        )
    allowed = _options(resnet_encoder) if name in ("resnet18", "resnet34", "resnet50") else _options(function)
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise InputError(
            f"encoder {name!r} does not take {', '.join(unknown)}; its options are: {', '.join(allowed) or 'none'}"
        )
    return function(*args, **kwargs)


def with_input_normalization(encoder, input_shape, normalize):
    """``encoder`` with a :class:`kspectral.data.Normalize` layer in front: ``(x − mean) / std`` per channel.

    Args:
        encoder: a Keras model or layer of ``(batch, *input_shape)`` images.
        input_shape: shape of one image ``(H, W, C)``.
        normalize: a dataset name of :data:`kspectral.data.NORMALIZATION` (``"cifar10"``, ``"cifar100"``,
            ``"stl10"``, ``"imagenet"``) or a ``(mean, std)`` pair.

    Returns:
        A functional ``keras.Model`` with the encoder's name, from images in ``[0, 1]`` to its representations; so
        every image the encoder sees, the probes' too, is normalised alike.

    Example:
        >>> encoder = with_input_normalization(build_encoder("conv", (32, 32, 3)), (32, 32, 3), "cifar10")
        >>> [layer.name for layer in encoder.layers][:2]
        ['images', 'normalize']
    """
    import keras

    from kspectral.data.augmentations import Normalize, normalization_stats

    mean, std = normalization_stats(normalize, tuple(input_shape)[-1])
    inputs = keras.Input(tuple(input_shape), name="images")
    outputs = encoder(Normalize(mean, std, name="normalize")(inputs))
    return keras.Model(inputs, outputs, name=encoder.name)


__all__ = [
    "ENCODERS",
    "KERAS_PREFIX",
    "STEMS",
    "application_names",
    "build_encoder",
    "choose_stem",
    "conv_encoder",
    "keras_application",
    "mlp_encoder",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet_encoder",
    "with_input_normalization",
]
