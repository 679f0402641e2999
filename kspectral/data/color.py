"""Colour augmentations with torchvision's laws: :class:`ColorJitter` and :class:`Grayscale`.

The four colour adjustments of ``torchvision.transforms.ColorJitter`` (as solo-learn, Lightly, VICReg and BYOL's
PyTorch ports apply it), for float images in ``[0, 1]``, channels last, each result clamped to ``[0, 1]``:

- brightness ``β``: ``β·x`` (a blend with black);
- contrast ``γ``: ``γ·x + (1 − γ)·m``, ``m`` the mean of the image's grayscale (one scalar per image);
- saturation ``σ``: ``σ·x + (1 − σ)·gray(x)``;
- hue ``η``: the HSV hue shifted by ``η`` of a full turn.

Grayscale is ITU-R 601-2 luma, ``0.299 R + 0.587 G + 0.114 B`` (PIL's ``convert("L")``, which torchvision calls
on PIL images). Every function is written with ``keras.ops``, vectorised over the batch with one factor per image,
and compiles with XLA.
"""

from __future__ import annotations

import numbers

import keras
from keras import ops

from kspectral._validation import check_number

#: ITU-R 601-2 luma weights of R, G and B (PIL's ``convert("L")``)
LUMA = (0.299, 0.587, 0.114)

#: the jitter laws :class:`ColorJitter` implements
JITTER_LAWS = ("torchvision", "simclr_v1")


def _per_image(factor, images):
    """``(B,)`` factors reshaped to broadcast against ``(B, H, W, C)`` images."""
    return ops.reshape(ops.cast(factor, images.dtype), (-1, 1, 1, 1))


def grayscale(images):
    """Luma ``0.299 R + 0.587 G + 0.114 B`` of RGB images ``(B, H, W, 3)``, shape ``(B, H, W, 1)``.

    Example:
        >>> import numpy as np
        >>> round(float(grayscale(np.ones((1, 1, 1, 3), "float32"))[0, 0, 0, 0]), 6)
        1.0
    """
    images = ops.convert_to_tensor(images)
    weights = ops.convert_to_tensor(LUMA, dtype=images.dtype)
    return ops.sum(images * weights, axis=-1, keepdims=True)


def rgb_to_hsv(images):
    """RGB ``(..., 3)`` in ``[0, 1]`` to HSV ``(..., 3)``, hue in ``[0, 1)`` of a turn (the standard hexcone
    model, as ``colorsys`` and torchvision compute it; grey pixels get hue 0 and saturation 0)."""
    r, g, b = images[..., 0], images[..., 1], images[..., 2]
    value = ops.max(images, axis=-1)
    low = ops.min(images, axis=-1)
    chroma = value - low
    grey = ops.equal(chroma, 0.0)
    saturation = ops.where(grey, 0.0, chroma / ops.where(ops.equal(value, 0.0), 1.0, value))
    safe = ops.where(grey, 1.0, chroma)
    rc, gc, bc = (value - r) / safe, (value - g) / safe, (value - b) / safe
    is_r = ops.equal(value, r)
    is_g = ops.logical_and(ops.equal(value, g), ops.logical_not(is_r))
    hue = ops.where(is_r, bc - gc, ops.where(is_g, 2.0 + rc - bc, 4.0 + gc - rc))
    hue = ops.where(grey, 0.0, hue)
    hue = (hue / 6.0) % 1.0
    return ops.stack([hue, saturation, value], axis=-1)


def hsv_to_rgb(images):
    """HSV ``(..., 3)`` (hue in turns, any real value; saturation and value in ``[0, 1]``) to RGB ``(..., 3)``."""
    hue, saturation, value = images[..., 0], images[..., 1], images[..., 2]
    sector = hue % 1.0 * 6.0
    channels = []
    for n in (5.0, 3.0, 1.0):  # R, G, B: channel = V − V·S·clip(min(k, 4 − k), 0, 1), k = (n + 6h) mod 6
        k = (n + sector) % 6.0
        channels.append(value - value * saturation * ops.clip(ops.minimum(k, 4.0 - k), 0.0, 1.0))
    return ops.stack(channels, axis=-1)


def adjust_brightness(images, factor):
    """``clip(β·x, 0, 1)`` with one factor ``β`` per image (``factor`` of shape ``(B,)``)."""
    return ops.clip(images * _per_image(factor, images), 0.0, 1.0)


def adjust_contrast(images, factor):
    """``clip(γ·x + (1 − γ)·m, 0, 1)``, ``m`` the mean of each image's grayscale (torchvision's law)."""
    mean = ops.mean(grayscale(images), axis=(1, 2, 3), keepdims=True)
    factor = _per_image(factor, images)
    return ops.clip(factor * images + (1.0 - factor) * mean, 0.0, 1.0)


def adjust_saturation(images, factor):
    """``clip(σ·x + (1 − σ)·gray(x), 0, 1)`` (torchvision's law)."""
    factor = _per_image(factor, images)
    return ops.clip(factor * images + (1.0 - factor) * grayscale(images), 0.0, 1.0)


def adjust_hue(images, shift):
    """The HSV hue of each image shifted by ``shift`` turns (``(B,)``, in ``[−0.5, 0.5]``)."""
    hsv = rgb_to_hsv(images)
    hue = hsv[..., 0] + ops.reshape(ops.cast(shift, images.dtype), (-1, 1, 1))
    return ops.clip(hsv_to_rgb(ops.stack([hue, hsv[..., 1], hsv[..., 2]], axis=-1)), 0.0, 1.0)


def _tf_brightness(images, delta):
    """SimCLR v1 (``tf.image.random_brightness``): ``clip(x + δ, 0, 1)``."""
    return ops.clip(images + _per_image(delta, images), 0.0, 1.0)


def _tf_contrast(images, factor):
    """``tf.image.adjust_contrast``: a blend with each channel's mean, clipped."""
    mean = ops.mean(images, axis=(1, 2), keepdims=True)
    factor = _per_image(factor, images)
    return ops.clip(factor * images + (1.0 - factor) * mean, 0.0, 1.0)


def _tf_saturation(images, factor):
    """``tf.image.adjust_saturation``: the HSV saturation times ``σ``, clipped to ``[0, 1]``."""
    hsv = rgb_to_hsv(images)
    saturation = ops.clip(hsv[..., 1] * ops.reshape(ops.cast(factor, images.dtype), (-1, 1, 1)), 0.0, 1.0)
    return ops.clip(hsv_to_rgb(ops.stack([hsv[..., 0], saturation, hsv[..., 2]], axis=-1)), 0.0, 1.0)


def _range(value, name, *, centre, maximum=None, low_bound=0.0):
    """A factor range ``(low, high)`` from a spread ``x`` (``(max(low_bound, centre − x), centre + x)``) or a pair."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be a number or a pair (low, high), got {value!r}")
        low = check_number(value[0], f"{name}[0]", minimum=low_bound if centre else -maximum, maximum=maximum)
        high = check_number(value[1], f"{name}[1]", minimum=low_bound if centre else -maximum, maximum=maximum)
        if low > high:
            raise ValueError(f"{name} must satisfy low <= high, got {value!r}")
        return (low, high)
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise ValueError(f"{name} must be a number or a pair (low, high), got {value!r}")
    spread = check_number(value, name, minimum=0.0, maximum=maximum)
    return (max(low_bound, centre - spread) if centre else -spread, centre + spread)


@keras.saving.register_keras_serializable(package="kspectral")
class ColorJitter(keras.layers.Layer):
    """Random brightness, contrast, saturation and hue in a random order, one draw per image (torchvision's law).

    For each image, four factors are drawn independently: brightness ``β ~ U(max(0, 1 − b), 1 + b)``, contrast
    ``γ ~ U(max(0, 1 − c), 1 + c)``, saturation ``σ ~ U(max(0, 1 − s), 1 + s)`` and hue shift ``η ~ U(−h, h)``,
    and so is the order in which the four adjustments are applied (a uniform random permutation, as
    ``torch.randperm(4)``); each adjustment's result is clamped to ``[0, 1]`` (:mod:`kspectral.data.color` gives
    the four formulas). This is ``torchvision.transforms.ColorJitter(b, c, s, h)`` applied image by image, as the
    SimCLR, BYOL, VICReg and Barlow Twins PyTorch pipelines, solo-learn and Lightly use it. An adjustment whose
    spread is 0 is skipped. A pair ``(low, high)`` gives a factor's range directly.

    ``law="simclr_v1"`` is SimCLR v1's TensorFlow jitter instead (Chen et al. 2020, arXiv:2002.05709, Appendix A,
    ``color_jitter_rand`` of the official code with ``impl="simclrv1"``): brightness **adds** ``δ ~ U(−b, b)``
    (``tf.image.random_brightness``), contrast blends with each channel's own mean, saturation scales the HSV
    saturation by ``U(1 − s, 1 + s)`` (clipped), hue as above, also in a random order per image.

    Args:
        brightness: spread ``b ≥ 0``, or a range ``(low, high)`` of ``β`` (``δ`` for ``simclr_v1``).
        contrast: spread ``c ≥ 0``, or a range of ``γ``.
        saturation: spread ``s ≥ 0``, or a range of ``σ``.
        hue: spread ``h ∈ [0, 0.5]`` of a turn, or a range within ``[−0.5, 0.5]``.
        law: ``"torchvision"`` (default) or ``"simclr_v1"``.
        seed: seed of the random draws (``None``: follows ``keras.utils.set_random_seed``).

    Input shape:
        ``(B, H, W, 3)`` RGB images in ``[0, 1]`` (or one image ``(H, W, 3)``).

    Output shape:
        Same as input.

    Example:
        >>> import numpy as np
        >>> jitter = ColorJitter(0.4, 0.4, 0.2, 0.1, seed=0)   # BYOL's and VICReg's jitter
        >>> jitter(np.random.rand(8, 16, 16, 3).astype("float32")).shape
        TensorShape([8, 16, 16, 3])
    """

    def __init__(self, brightness=0.0, contrast=0.0, saturation=0.0, hue=0.0, law="torchvision", seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        if law not in JITTER_LAWS:
            raise ValueError(f"unknown jitter law {law!r}; choose one of: {', '.join(JITTER_LAWS)}")
        self.law = law
        self.brightness, self.contrast, self.saturation, self.hue = brightness, contrast, saturation, hue
        additive = law == "simclr_v1"
        self.brightness_range = _range(brightness, "brightness", centre=0.0 if additive else 1.0,
                                       maximum=1.0 if additive else None)
        self.contrast_range = _range(contrast, "contrast", centre=1.0)
        self.saturation_range = _range(saturation, "saturation", centre=1.0)
        self.hue_range = _range(hue, "hue", centre=0.0, maximum=0.5)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _adjustments(self):
        """The enabled adjustments as ``(index, function, (low, high))``; index = position in the permutation."""
        identity = {0: (1.0, 1.0), 1: (1.0, 1.0), 2: (1.0, 1.0), 3: (0.0, 0.0)}
        if self.law == "simclr_v1":
            identity[0] = (0.0, 0.0)
            functions = (_tf_brightness, _tf_contrast, _tf_saturation, adjust_hue)
        else:
            functions = (adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)
        ranges = (self.brightness_range, self.contrast_range, self.saturation_range, self.hue_range)
        return [(i, fn, r) for i, (fn, r) in enumerate(zip(functions, ranges)) if tuple(r) != identity[i]]

    def build(self, input_shape):
        channels = tuple(input_shape)[-1]
        if channels is not None and channels != 3:
            raise ValueError(f"ColorJitter needs RGB images (…, 3), got shape {tuple(input_shape)}; drop the colour "
                             "jitter for grayscale images (the presets do with channels=1)")
        self.built = True

    def call(self, inputs, training=True):
        images = ops.cast(ops.convert_to_tensor(inputs), self.compute_dtype)
        single = len(images.shape) == 3
        if single:
            images = ops.expand_dims(images, 0)
        adjustments = self._adjustments()
        if not training or not adjustments:
            return images[0] if single else images
        batch = ops.shape(images)[0]
        u = keras.random.uniform((batch, 4), 0.0, 1.0, seed=self.seed_generator)
        # a uniform random permutation per image: the ranks of four independent uniforms
        order = ops.argsort(keras.random.uniform((batch, 4), 0.0, 1.0, seed=self.seed_generator), axis=-1)
        factors = {i: r[0] + (r[1] - r[0]) * u[:, i] for i, _, r in adjustments}
        for slot in range(4):
            which = order[:, slot]
            out = images
            for i, fn, _ in adjustments:
                out = ops.where(ops.reshape(ops.equal(which, i), (-1, 1, 1, 1)), fn(images, factors[i]), out)
            images = out
        return images[0] if single else images

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        as_list = (lambda v: list(v) if isinstance(v, (tuple, list)) else v)
        config.update(brightness=as_list(self.brightness), contrast=as_list(self.contrast),
                      saturation=as_list(self.saturation), hue=as_list(self.hue), law=self.law, seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package="kspectral")
class Grayscale(keras.layers.Layer):
    """RGB images to their luma ``0.299 R + 0.587 G + 0.114 B``, replicated to 3 channels (deterministic).

    ``torchvision.transforms.RandomGrayscale(p)`` is ``RandomApply(Grayscale(), rate=p)``
    (:class:`kspectral.data.RandomApply` draws the choice per image).

    Example:
        >>> import numpy as np
        >>> Grayscale()(np.zeros((2, 4, 4, 3), "float32")).shape
        TensorShape([2, 4, 4, 3])
    """

    def call(self, inputs):
        images = ops.cast(ops.convert_to_tensor(inputs), self.compute_dtype)
        return ops.repeat(grayscale(images), 3, axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape
