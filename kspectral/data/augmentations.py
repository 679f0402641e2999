"""Augmentation layers that Keras 3 lacks: random resized crops, "apply with probability p" and a fixed solarization.

:class:`RandomResizedCrop`, :class:`RandomApply` and :class:`Solarize` (and :class:`CheckChannels`, the presets'
input check) are Keras layers, vectorised over the batch (one random draw per image, no Python loop), seeded
through a ``keras.random.SeedGenerator``, usable inside ``tf.data`` and inside a model on an accelerator, and
serializable (``get_config`` and ``keras.saving`` registration under the ``"kspectral"`` package). Like Keras' own
random layers they draw new transformations when called with ``training=True`` (the default) and are deterministic with
``training=False`` (inference, e.g. ``model.predict``).

Images are batches ``(B, H, W, C)`` (channels last; a single image ``(H, W, C)`` is accepted too) with float values
in ``[0, 1]``. They also compile with XLA (``jit_compile=True``), as the train step on a GPU may.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from kspectral._validation import check_number, check_positive_int
from kspectral.data.resample import resize_boxes
from kspectral.errors import InputError

_ATTEMPTS = 10  # crop boxes drawn per image before falling back to the centre crop
#: resampling of :class:`RandomResizedCrop`
INTERPOLATIONS = ("bilinear", "bicubic")


def _check_pair(value, name, *, positive=False, maximum=None):
    """A ``(low, high)`` pair of finite numbers with ``low <= high``."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise InputError(f"{name} must be a pair (low, high), got {value!r}")
    low = check_number(value[0], f"{name}[0]", minimum=0.0, strict=positive, maximum=maximum)
    high = check_number(value[1], f"{name}[1]", minimum=0.0, strict=positive, maximum=maximum)
    if low > high:
        raise InputError(f"{name} must satisfy low <= high, got {value!r}")
    return (low, high)


def _check_size(value, name):
    return None if value is None else check_positive_int(value, name)


def _as_batch(inputs, dtype):
    """``inputs`` as a float batch of rank 4, and whether a rank-3 image was given."""
    images = ops.convert_to_tensor(inputs)
    if len(images.shape) not in (3, 4):
        raise InputError(
            f"expected images of shape (batch, height, width, channels) or (height, width, channels), "
            f"got shape {tuple(images.shape)}"
        )
    images = ops.cast(images, dtype)
    single = len(images.shape) == 3
    return (ops.expand_dims(images, 0) if single else images), single


def _sample_points(start, length, out_size, in_size):
    """Pixel coordinates ``(B, out_size)`` at which to sample boxes ``[start, start + length)`` of one axis.

    Half-pixel centres, as ``tf.image.resize`` and torchvision place them: output pixel ``k`` samples
    ``start + (k + 0.5)·length/out_size − 0.5``, clamped to the image.
    """
    k = ops.arange(out_size, dtype="float32")[None, :]
    step = length / ops.cast(out_size, "float32")
    points = start[:, None] + (k + 0.5) * step[:, None] - 0.5
    return ops.clip(points, 0.0, in_size - 1.0)


def _take_rows(images, index, axis):
    """``images[b, index[b, k]]`` along ``axis`` (1 or 2) for each image ``b``: a batched gather."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.gather(images, index, axis=axis, batch_dims=1)
    index_shape = (-1, 1, ops.shape(index)[1], 1) if axis == 2 else (-1, ops.shape(index)[1], 1, 1)
    return ops.take_along_axis(images, ops.reshape(index, index_shape), axis=axis)


def _sample_axis(images, points, axis, size):
    """Linear interpolation of ``images`` along ``axis`` (1: rows, 2: columns) at per-image ``points``."""
    low = ops.floor(points)
    frac = points - low
    low = ops.cast(low, "int32")
    high = ops.minimum(low + 1, ops.cast(size, "int32") - 1)
    below = _take_rows(images, low, axis)
    above = _take_rows(images, high, axis)
    frac_shape = (-1, 1, ops.shape(points)[1], 1) if axis == 2 else (-1, ops.shape(points)[1], 1, 1)
    return below + (above - below) * ops.cast(ops.reshape(frac, frac_shape), images.dtype)


@keras.saving.register_keras_serializable(package="kspectral")
class RandomResizedCrop(keras.layers.Layer):
    """Crop a random box of random area and aspect ratio from each image, then resize it to ``(height, width)``.

    For each image, the crop box is drawn as in the "Inception" crop (Szegedy et al. 2015, "Going Deeper with
    Convolutions", arXiv:1409.4842, §6) used by SimCLR (Chen et al. 2020, arXiv:2002.05709, Appendix A): its area
    is a fraction ``s ~ U(scale)`` of the image area, its aspect ratio (width / height) ``r`` is log-uniform on
    ``ratio``, its side lengths are ``w = round(√(s·A·r))`` and ``h = round(√(s·A/r))``, and its top-left corner is
    uniform among the positions that keep it inside the image. Ten boxes are drawn per image and the first that
    fits is kept; if none fits, the box is the largest centred box whose aspect ratio lies in ``ratio``
    (torchvision's ``RandomResizedCrop.get_params``). The box is resized with ``interpolation``:

    - ``"bilinear"``: linear interpolation at half-pixel centres (as ``tf.image.resize``; no antialiasing), by
      batched gathers;
    - ``"bicubic"``: PIL's bicubic resampling of the cropped box (torchvision's ``InterpolationMode.BICUBIC`` on PIL
      images, as solo-learn, SimCLR, BYOL and VICReg resize their crops): cubic kernel ``a = −½``, the box's own
      pixels only, antialiased when the box is larger than the output, clipped to ``value_range``
      (:mod:`kspectral.data.resample`).

    Both compile with XLA.

    With ``training=False`` the layer is deterministic: it takes the largest centred box with the output's aspect
    ratio (the whole image when both are square) and resizes it.

    Args:
        height: output height in pixels (``None``: the input height).
        width: output width in pixels (``None``: the input width).
        scale: range ``(low, high)`` of the crop's area as a fraction of the image area, ``0 < low <= high <= 1``.
        ratio: range ``(low, high)`` of the crop's aspect ratio (width / height), ``0 < low <= high``.
        seed: seed of the random draws (``None``: follows ``keras.utils.set_random_seed``).
        interpolation: ``"bilinear"`` or ``"bicubic"``.
        value_range: ``(low, high)`` the bicubic result is clipped to (the cubic kernel overshoots), or ``None``.

    Input shape:
        ``(B, H, W, C)`` or ``(H, W, C)``, channels last, float values.

    Output shape:
        ``(B, height, width, C)`` or ``(height, width, C)``, float32.

    Example:
        >>> import numpy as np
        >>> crop = RandomResizedCrop(24, 24, scale=(0.2, 1.0), seed=0)
        >>> crop(np.random.rand(8, 32, 32, 3).astype("float32"), training=True).shape
        TensorShape([8, 24, 24, 3])
    """

    def __init__(self, height, width, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0), seed=None,
                 interpolation="bilinear", value_range=(0.0, 1.0), **kwargs):
        super().__init__(**kwargs)
        self.height = _check_size(height, "height")
        self.width = _check_size(width, "width")
        self.scale = _check_pair(scale, "scale", positive=True, maximum=1.0)
        self.ratio = _check_pair(ratio, "ratio", positive=True)
        if interpolation not in INTERPOLATIONS:
            raise InputError(f"unknown interpolation {interpolation!r}; choose one of: {', '.join(INTERPOLATIONS)}")
        self.interpolation = interpolation
        if value_range is not None:
            if not isinstance(value_range, (tuple, list)) or len(value_range) != 2 or value_range[0] >= value_range[1]:
                raise InputError(f"value_range must be None or a pair (low, high) with low < high, got {value_range!r}")
            value_range = (float(value_range[0]), float(value_range[1]))
        self.value_range = value_range
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _output_size(self, in_h, in_w):
        return (in_h if self.height is None else self.height, in_w if self.width is None else self.width)

    def _random_boxes(self, batch, in_h, in_w):
        """Per-image crop boxes ``(top, left, h, w)`` as float tensors of shape ``(B,)``."""
        area = in_h * in_w
        shape = (batch, _ATTEMPTS)
        fraction = keras.random.uniform(shape, self.scale[0], self.scale[1], seed=self.seed_generator)
        log_ratio = keras.random.uniform(
            shape, math.log(self.ratio[0]), math.log(self.ratio[1]), seed=self.seed_generator
        )
        aspect = ops.exp(log_ratio)
        w = ops.round(ops.sqrt(fraction * area * aspect))
        h = ops.round(ops.sqrt(fraction * area / aspect))
        fits = ops.logical_and(
            ops.logical_and(w > 0, w <= in_w), ops.logical_and(h > 0, h <= in_h)
        )
        first = ops.argmax(ops.cast(fits, "int32"), axis=1)[:, None]
        any_fits = ops.any(fits, axis=1)
        w = ops.squeeze(ops.take_along_axis(w, first, axis=1), 1)
        h = ops.squeeze(ops.take_along_axis(h, first, axis=1), 1)
        fallback_h, fallback_w = self._centre_size(in_h, in_w, self.ratio[0], self.ratio[1])
        h = ops.where(any_fits, h, fallback_h)
        w = ops.where(any_fits, w, fallback_w)
        u = keras.random.uniform((batch, 2), 0.0, 1.0, seed=self.seed_generator)
        # Uniform integer offsets in [0, in - size]; the minimum guards against u rounding up to 1.
        top = ops.minimum(ops.floor(u[:, 0] * (in_h - h + 1.0)), in_h - h)
        left = ops.minimum(ops.floor(u[:, 1] * (in_w - w + 1.0)), in_w - w)
        top = ops.where(any_fits, top, ops.floor((in_h - h) / 2.0))
        left = ops.where(any_fits, left, ops.floor((in_w - w) / 2.0))
        return top, left, h, w

    @staticmethod
    def _centre_size(in_h, in_w, low, high):
        """Side lengths of the largest centred box whose aspect ratio is ``in_w / in_h`` clipped to ``[low, high]``."""
        in_ratio = in_w / in_h
        too_narrow = in_ratio < low
        too_wide = in_ratio > high
        h = ops.where(too_narrow, ops.round(in_w / low), in_h)
        w = ops.where(too_wide, ops.round(in_h * high), in_w)
        return ops.minimum(h, in_h), ops.minimum(w, in_w)

    def call(self, inputs, training=True):
        images, single = _as_batch(inputs, self.compute_dtype)
        shape = ops.shape(images)
        batch = shape[0]
        in_h = ops.cast(shape[1], "float32")
        in_w = ops.cast(shape[2], "float32")
        out_h, out_w = self._output_size(shape[1], shape[2])
        if training:
            top, left, h, w = self._random_boxes(batch, in_h, in_w)
        else:
            target = ops.cast(out_w, "float32") / ops.cast(out_h, "float32")
            h, w = self._centre_size(in_h, in_w, target, target)
            h = ops.zeros((batch,)) + h
            w = ops.zeros((batch,)) + w
            top = ops.floor((in_h - h) / 2.0)
            left = ops.floor((in_w - w) / 2.0)
        if self.interpolation == "bicubic":
            crops = resize_boxes(images, top, left, h, w, out_h, out_w,
                                 value_range=self.value_range or (float("-inf"), float("inf")))
        else:
            rows = _sample_axis(images, _sample_points(top, h, out_h, in_h), axis=1, size=shape[1])
            crops = _sample_axis(rows, _sample_points(left, w, out_w, in_w), axis=2, size=shape[2])
        crops = ops.cast(crops, self.compute_dtype)
        return crops[0] if single else crops

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        out_h, out_w = self._output_size(input_shape[-3], input_shape[-2])
        return (*input_shape[:-3], out_h, out_w, input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(
            height=self.height, width=self.width, scale=list(self.scale), ratio=list(self.ratio), seed=self.seed,
            interpolation=self.interpolation, value_range=None if self.value_range is None else list(self.value_range),
        )
        return config


def _wrapped_layer(layer, owner):
    """The layer a wrapper holds: a Keras layer, or its saved config (when the wrapper is loaded)."""
    if isinstance(layer, dict):
        layer = keras.saving.deserialize_keras_object(layer)
    if not isinstance(layer, keras.layers.Layer):
        raise TypeError(f"{owner} wraps a Keras layer, got {type(layer).__name__}")
    return layer


@keras.saving.register_keras_serializable(package="kspectral")
class RandomApply(keras.layers.Layer):
    """Apply ``layer`` to each image of the batch with probability ``rate``, independently per image.

    The wrapped layer runs on the whole batch (``training=True``) and a per-image Bernoulli(``rate``) mask picks,
    for each image, its output or the untouched input, so the layer stays vectorised. This is the ``RandomApply``
    of the SimCLR, BYOL and VICReg augmentation pipelines (e.g. colour jitter with ``p = 0.8``, Chen et al. 2020,
    arXiv:2002.05709, Appendix A). With ``rate=1`` it returns the wrapped layer's output, with ``rate=0`` its
    input; with ``training=False`` it returns its input.

    Args:
        layer: a Keras layer whose output has the shape and dtype of its input (e.g. ``RandomColorJitter``).
        rate: probability of applying ``layer`` to an image, in ``[0, 1]``.
        seed: seed of the per-image draws (the wrapped layer has its own seed).

    Input shape:
        ``(B, ...)``; the wrapped layer must keep this shape.

    Output shape:
        Same as input.

    Example:
        >>> import keras, numpy as np
        >>> jitter = keras.layers.RandomColorJitter(value_range=(0, 1), brightness_factor=0.4)
        >>> maybe_jitter = RandomApply(jitter, rate=0.8, seed=0)
        >>> maybe_jitter(np.random.rand(8, 16, 16, 3).astype("float32"), training=True).shape
        TensorShape([8, 16, 16, 3])
    """

    def __init__(self, layer, rate=0.5, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.layer = _wrapped_layer(layer, "RandomApply")
        self.rate = check_number(rate, "rate", minimum=0.0, maximum=1.0)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build(input_shape)
        self.built = True

    def call(self, inputs, training=True):
        inputs = ops.convert_to_tensor(inputs)
        if not training or self.rate == 0.0:
            return inputs
        outputs = ops.cast(self.layer(inputs, training=True), inputs.dtype)
        if tuple(outputs.shape) != tuple(inputs.shape):
            raise InputError(
                f"RandomApply needs a layer that keeps the shape of its input, but {self.layer.name} maps "
                f"{tuple(inputs.shape)} to {tuple(outputs.shape)}; apply shape-changing layers unconditionally"
            )
        if self.rate == 1.0:
            return outputs
        batch = ops.shape(inputs)[0]
        apply = keras.random.uniform((batch,), 0.0, 1.0, seed=self.seed_generator) < self.rate
        apply = ops.reshape(apply, (-1,) + (1,) * (len(inputs.shape) - 1))
        return ops.where(apply, outputs, inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(layer=keras.saving.serialize_keras_object(self.layer), rate=self.rate, seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package="kspectral")
class Solarize(keras.layers.Layer):
    """Invert the pixel values at or above a fixed threshold: ``x ↦ x`` if ``x < t``, else ``high + low − x``.

    The solarization of BYOL (Grill et al. 2020, "Bootstrap your own latent", arXiv:2006.07733, Appendix B,
    threshold at half the value range) and VICReg (Bardes et al. 2022, arXiv:2105.04906, Appendix C). It is
    deterministic; wrap it in :class:`RandomApply` to apply it with a probability. (Keras' ``Solarization`` draws
    its threshold at random for every image and cannot pin it.)

    Args:
        threshold: the threshold as a fraction of the value range, in ``[0, 1]`` (0.5: the middle).
        value_range: ``(low, high)`` range of the pixel values.

    Input shape:
        Any; output shape: same as input.

    Example:
        >>> import numpy as np
        >>> [round(float(v), 2) for v in Solarize()(np.array([0.2, 0.5, 0.9], dtype="float32"))]
        [0.2, 0.5, 0.1]
    """

    def __init__(self, threshold=0.5, value_range=(0.0, 1.0), **kwargs):
        super().__init__(**kwargs)
        self.threshold = check_number(threshold, "threshold", minimum=0.0, maximum=1.0)
        if not isinstance(value_range, (tuple, list)) or len(value_range) != 2 or value_range[0] >= value_range[1]:
            raise InputError(f"value_range must be a pair (low, high) with low < high, got {value_range!r}")
        self.value_range = (float(value_range[0]), float(value_range[1]))

    def call(self, inputs):
        x = ops.cast(ops.convert_to_tensor(inputs), self.compute_dtype)
        low, high = self.value_range
        cut = low + self.threshold * (high - low)
        return ops.where(x < cut, x, high + low - x)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(threshold=self.threshold, value_range=list(self.value_range))
        return config


@keras.saving.register_keras_serializable(package="kspectral")
class ReflectPadded(keras.layers.Layer):
    """Run an image layer on reflect-padded images, then crop back to the input size.

    Keras' ``RandomGaussianBlur`` pads with zeros, which darkens a frame of half the kernel's width around every
    blurred image; the blur of the SimCLR, BYOL and VICReg pipelines (torchvision's) reflects the border instead.
    Wrapping the blur in this layer gives that border handling.

    Args:
        layer: a Keras layer that keeps the spatial size of its input (e.g. ``RandomGaussianBlur``).
        padding: pixels of reflection added on each side (half the blur kernel, rounded down).

    Input shape:
        ``(B, H, W, C)`` with ``H, W > padding``. Output shape: the same.

    Example:
        >>> import keras, numpy as np
        >>> blur = keras.layers.RandomGaussianBlur(factor=(1.0, 1.0), kernel_size=3, value_range=(0, 1), seed=0)
        >>> out = ReflectPadded(blur, padding=1)(np.full((1, 8, 8, 1), 0.8, "float32"), training=True)
        >>> round(float(keras.ops.min(out)), 4)
        0.8
    """

    def __init__(self, layer, padding, **kwargs):
        super().__init__(**kwargs)
        self.layer = _wrapped_layer(layer, "ReflectPadded")
        self.padding = check_positive_int(padding, "padding", minimum=0)

    def _padded(self, input_shape):
        p = 2 * self.padding
        return (input_shape[0], *(None if d is None else d + p for d in input_shape[1:3]), *input_shape[3:])

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build(self._padded(input_shape))
        self.built = True

    def call(self, inputs, training=True):
        p = self.padding
        if p == 0:
            return self.layer(inputs, training=training)
        padded = ops.pad(inputs, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")
        return self.layer(padded, training=training)[:, p:-p, p:-p, :]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(layer=keras.saving.serialize_keras_object(self.layer), padding=self.padding)
        return config


@keras.saving.register_keras_serializable(package="kspectral")
class CheckChannels(keras.layers.Layer):
    """Pass images through unchanged after checking that they have ``channels`` channels (channels last).

    The augmentation presets start with it: their colour transformations need RGB images, and a preset built for
    grayscale images (``channels=1``) has none. A mismatch raises a ``ValueError`` that names the fix.

    Args:
        channels: the expected number of channels.

    Example:
        >>> import numpy as np
        >>> CheckChannels(3)(np.zeros((2, 8, 8, 3), dtype="float32")).shape
        TensorShape([2, 8, 8, 3])
    """

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        self.channels = check_positive_int(channels, "channels")

    def _check(self, shape):
        if len(shape) not in (3, 4):
            raise InputError(
                f"expected images of shape (batch, height, width, {self.channels}), got shape {tuple(shape)}"
            )
        got = shape[-1]
        if got is not None and got != self.channels:
            fix = (
                f"build the augmenter with channels={got} (channels=1 drops the colour jitter and grayscale)"
                if got in (1, 3) else "convert the images to RGB (3 channels) or grayscale (1 channel)"
            )
            raise InputError(
                f"this augmenter was built for images of shape (batch, height, width, {self.channels}) but got "
                f"shape {tuple(shape)}; {fix}"
            )

    def build(self, input_shape):
        self._check(tuple(input_shape))
        self.built = True

    def call(self, inputs):
        inputs = ops.convert_to_tensor(inputs)
        self._check(tuple(inputs.shape))
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(channels=self.channels)
        return config


#: per-channel mean and standard deviation of the RGB training images of each dataset, as solo-learn normalises
#: them (``solo/data/pretrain_dataloader.py``, ``MEANS_N_STD``); ``imagenet`` is the ImageNet statistics that
#: solo-learn also uses for ImageNet-100 and for other datasets
NORMALIZATION = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "stl10": ((0.4914, 0.4823, 0.4466), (0.247, 0.243, 0.261)),
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}


def normalization_stats(normalize, channels=None):
    """``(mean, std)`` tuples from a dataset name of :data:`NORMALIZATION` or a ``(mean, std)`` pair of sequences
    (or numbers), checked against ``channels`` when given."""
    if isinstance(normalize, str):
        if normalize not in NORMALIZATION:
            raise InputError(f"unknown normalization {normalize!r}; choose one of: {', '.join(NORMALIZATION)}, or "
                             "give (mean, std)")
        mean, std = NORMALIZATION[normalize]
    elif isinstance(normalize, (tuple, list)) and len(normalize) == 2:
        mean, std = normalize
    else:
        raise InputError(f"normalize must be a dataset name ({', '.join(NORMALIZATION)}) or a pair (mean, std), "
                         f"got {normalize!r}")
    mean = tuple(float(m) for m in (mean if isinstance(mean, (tuple, list)) else [mean]))
    std = tuple(check_number(s, "std", minimum=0.0, strict=True) for s in (std if isinstance(std, (tuple, list))
                                                                           else [std]))
    if len(mean) != len(std):
        raise InputError(f"normalize needs as many means as standard deviations, got {len(mean)} and {len(std)}")
    if channels is not None and len(mean) not in (1, channels):
        raise InputError(f"normalize has {len(mean)} channel statistics but the images have {channels} channels")
    return mean, std


@keras.saving.register_keras_serializable(package="kspectral")
class Normalize(keras.layers.Layer):
    """``(x − mean) / std`` per channel (torchvision's ``Normalize``, the last step of solo-learn's pipelines).

    Args:
        mean, std: per-channel sequences (or one number for every channel), ``std > 0``; or give
            ``normalize=NAME`` with a dataset name of :data:`NORMALIZATION` (``"cifar10"``, ``"cifar100"``,
            ``"stl10"``, ``"imagenet"``).

    Input shape: ``(..., C)``. Output shape: the same.

    Example:
        >>> import numpy as np
        >>> layer = Normalize(normalize="cifar10")
        >>> round(float(layer(np.full((1, 1, 1, 3), 0.4914, "float32"))[0, 0, 0, 0]), 6)
        0.0
    """

    def __init__(self, mean=None, std=None, normalize=None, **kwargs):
        super().__init__(**kwargs)
        if normalize is not None:
            if mean is not None or std is not None:
                raise InputError("give either normalize=NAME or mean and std, not both")
            mean, std = normalization_stats(normalize)
        elif mean is None or std is None:
            raise InputError("Normalize needs mean and std, or normalize=NAME (a dataset: "
                             f"{', '.join(NORMALIZATION)})")
        self.mean, self.std = normalization_stats((mean, std))

    def build(self, input_shape):
        channels = tuple(input_shape)[-1]
        if channels is not None and len(self.mean) not in (1, channels):
            raise InputError(f"Normalize has {len(self.mean)} channel statistics but the inputs have shape "
                             f"{tuple(input_shape)}")
        self.built = True

    def call(self, inputs):
        x = ops.cast(ops.convert_to_tensor(inputs), self.compute_dtype)
        mean = ops.convert_to_tensor(self.mean, dtype=x.dtype)
        std = ops.convert_to_tensor(self.std, dtype=x.dtype)
        return (x - mean) / std

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(mean=list(self.mean), std=list(self.std))
        return config
