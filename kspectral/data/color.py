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
from kspectral.errors import InputError

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
    return ops.matmul(images, ops.convert_to_tensor([[w] for w in LUMA], dtype=images.dtype))


def _native(name):
    """``keras.ops.image.<name>`` (a single fused op on the TensorFlow backend), or ``None`` on older Keras."""
    return getattr(getattr(ops, "image", None), name, None)


def rgb_to_hsv(images):
    """RGB ``(B, H, W, 3)`` in ``[0, 1]`` to HSV, hue in ``[0, 1)`` of a turn (the standard hexcone model, as
    ``colorsys`` and torchvision compute it; grey pixels get hue 0 and saturation 0). Uses
    ``keras.ops.image.rgb_to_hsv`` (TensorFlow's fused kernel) where Keras has it."""
    native = _native("rgb_to_hsv")
    if native is not None and len(images.shape) in (3, 4):
        return native(images)
    return _rgb_to_hsv(images)


def _rgb_to_hsv(images):
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
    """HSV ``(B, H, W, 3)`` (hue in turns; saturation and value in ``[0, 1]``) to RGB; a hue outside ``[0, 1)`` is
    taken modulo 1. Uses ``keras.ops.image.hsv_to_rgb`` where Keras has it."""
    native = _native("hsv_to_rgb")
    if native is not None and len(images.shape) in (3, 4):
        return native(ops.stack([images[..., 0] % 1.0, images[..., 1], images[..., 2]], axis=-1))
    return _hsv_to_rgb(images)


def _hsv_to_rgb(images):
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
    # add the shift to the hue channel and take it modulo 1 (saturation and value, in [0, 1], modulo 2 stay)
    shift = ops.reshape(ops.cast(shift, images.dtype), (-1, 1, 1, 1)) * ops.convert_to_tensor([1.0, 0.0, 0.0],
                                                                                             images.dtype)
    hsv = (hsv + shift) % ops.convert_to_tensor([1.0, 2.0, 2.0], images.dtype)
    native = _native("hsv_to_rgb")
    rgb = native(hsv) if native is not None else _hsv_to_rgb(hsv)
    return ops.clip(rgb, 0.0, 1.0)


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
            raise InputError(f"{name} must be a number or a pair (low, high), got {value!r}")
        low = check_number(value[0], f"{name}[0]", minimum=low_bound if centre else -maximum, maximum=maximum)
        high = check_number(value[1], f"{name}[1]", minimum=low_bound if centre else -maximum, maximum=maximum)
        if low > high:
            raise InputError(f"{name} must satisfy low <= high, got {value!r}")
        return (low, high)
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise InputError(f"{name} must be a number or a pair (low, high), got {value!r}")
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
            raise InputError(f"unknown jitter law {law!r}; choose one of: {', '.join(JITTER_LAWS)}")
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
        """The enabled adjustments as ``(index, (low, high))``; index = position in the permutation (brightness,
        contrast, saturation, hue)."""
        identity = ((0.0, 0.0) if self.law == "simclr_v1" else (1.0, 1.0), (1.0, 1.0), (1.0, 1.0), (0.0, 0.0))
        ranges = (self.brightness_range, self.contrast_range, self.saturation_range, self.hue_range)
        return [(i, r) for i, r in enumerate(ranges) if tuple(r) != identity[i]]

    def build(self, input_shape):
        channels = tuple(input_shape)[-1]
        if channels is not None and channels != 3:
            raise InputError(f"ColorJitter needs RGB images (…, 3), got shape {tuple(input_shape)}; drop the colour "
                             "jitter for grayscale images (the presets do with channels=1)")
        self.built = True

    def _blend(self, images, which, factors):
        """Brightness, contrast or saturation, as ``which`` (``(B,)``) names per image; the images whose index is
        another (the hue's 3, or −1) are left unchanged.

        The three are one fused per-image blend ``clip(a·x + c·gray(x) + d·m, 0, 1)`` (``m`` the grayscale mean):
        brightness ``(β, 0, 0)``, contrast ``(γ, 0, 1 − γ)``, saturation ``(σ, 1 − σ, 0)``; any other index gives
        ``(1, 0, 0)``, the identity on images in ``[0, 1]``.
        """
        one, zero = ops.ones_like(which, dtype=images.dtype), ops.zeros_like(which, dtype=images.dtype)
        scale, to_gray, to_mean = one, zero, zero
        if 0 in factors:
            scale = ops.where(ops.equal(which, 0), factors[0], scale)
        if 1 in factors:
            scale = ops.where(ops.equal(which, 1), factors[1], scale)
            to_mean = ops.where(ops.equal(which, 1), 1.0 - factors[1], to_mean)
        if 2 in factors:
            scale = ops.where(ops.equal(which, 2), factors[2], scale)
            to_gray = ops.where(ops.equal(which, 2), 1.0 - factors[2], to_gray)
        out = images * _per_image(scale, images)
        if 1 in factors or 2 in factors:
            gray = grayscale(images)
            offset = _per_image(to_gray, images) * gray  # (B, H, W, 1): the blend's offset, added to every channel
            if 1 in factors:
                offset = offset + _per_image(to_mean, images) * ops.mean(gray, axis=(1, 2, 3), keepdims=True)
            out = out + offset
        return ops.clip(out, 0.0, 1.0)

    def _torchvision(self, images, order, factors):
        """The four adjustments in each image's ``order`` ``(B, 4)``, the hue shift computed once per batch.

        Every image meets the hue shift at one position ``k_h`` of its order: the blends of the positions before
        ``k_h`` are applied first (each position's blend only to the images still before their hue), then the hue
        shift to every image, then the blends after ``k_h``. That is the order's result exactly, with one HSV round
        trip instead of four.
        """
        blends = [i for i in factors if i != 3]
        if 3 not in factors:
            for position in range(4):
                images = self._blend(images, order[:, position], factors)
            return images
        hue_at = ops.argmax(ops.cast(ops.equal(order, 3), "int32"), axis=1)
        none = ops.full_like(order[:, 0], -1)
        if blends:
            for position in range(3):  # a blend before the hue: position < k_h ≤ 3
                images = self._blend(images, ops.where(position < hue_at, order[:, position], none), factors)
        images = adjust_hue(images, factors[3])
        if blends:
            for position in range(1, 4):  # a blend after the hue: position > k_h ≥ 0
                images = self._blend(images, ops.where(position > hue_at, order[:, position], none), factors)
        return images

    def _slot_v1(self, images, which, factors):
        """One position of the random order under SimCLR v1's law (each adjustment computed, then selected)."""
        functions = {0: _tf_brightness, 1: _tf_contrast, 2: _tf_saturation, 3: adjust_hue}
        out = images
        for i, factor in factors.items():
            out = ops.where(ops.reshape(ops.equal(which, i), (-1, 1, 1, 1)), functions[i](images, factor), out)
        return out

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
        order = ops.cast(order, "int32")
        factors = {i: ops.cast(r[0] + (r[1] - r[0]) * u[:, i], images.dtype) for i, r in adjustments}
        if self.law == "simclr_v1":
            for position in range(4):
                images = self._slot_v1(images, order[:, position], factors)
        else:
            images = self._torchvision(images, order, factors)
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
