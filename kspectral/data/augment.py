"""Augmentation presets: the view distributions of the SSL literature, built from Keras preprocessing layers.

An augmenter is a ``keras.Sequential`` of random layers, called as ``augmenter(images, training=True)``: each call
draws new transformations, one per image. The same augmenter runs inside ``tf.data``
(:func:`kspectral.data.augmented_pairs`) or inside a model's train step on the accelerator. Presets are
serializable Keras models; the layers Keras lacks are in :mod:`kspectral.data.augmentations`.

Inputs are float images in ``[0, 1]``, channels last, ``(B, H, W, C)``. The colour transformations (jitter,
grayscale) need RGB images: the presets take ``channels=1`` for grayscale images, which drops them (crop, flip, blur
and solarization still apply); an augmenter built for RGB images refuses images of another channel count.

Presets (:func:`augmenter` by name):

- ``simclr``: Chen et al. 2020 (arXiv:2002.05709), Appendix A: random resized crop (area 0.08–1), horizontal flip,
  colour jitter of strength ``s`` (brightness, contrast and saturation ``0.8s``, hue ``0.2s``) with ``p = 0.8``,
  grayscale with ``p = 0.2``, Gaussian blur (kernel 10 % of the side, σ ∈ [0.1, 2]) with ``p = 0.5``.
- ``cifar``: the SimCLR CIFAR-10 protocol (Chen et al. 2020, Appendix B.9): as ``simclr`` with ``s = 0.5`` and no
  blur.
- ``byol``: Grill et al. 2020 (arXiv:2006.07733), Appendix B, Table 6: two view distributions, colour jitter
  (0.4, 0.4, 0.2, 0.1) with ``p = 0.8``, grayscale ``p = 0.2``, blur ``p = 1.0`` / ``0.1``, solarization
  ``p = 0`` / ``0.2``; returns a pair of augmenters, one per view.
- ``vicreg``: Bardes, Ponce & LeCun 2022 (arXiv:2105.04906), Appendix C.1: the BYOL views.
- ``digits``: small shifts, zooms, rotations and noise for 8×8 digits.
- ``multicrop``: two large views of a base preset and ``n_small`` small ones (Caron et al. 2020, SwAV,
  arXiv:2006.09882, §3.2); returns a list of augmenters.
"""

from __future__ import annotations

import numbers

import keras

from kspectral._validation import check_image_size, check_number, check_positive_int
from kspectral.data.augmentations import CheckChannels, RandomApply, RandomResizedCrop, ReflectPadded, Solarize

VALUE_RANGE = (0.0, 1.0)
BLUR_SIGMA = (0.1, 2.0)


def _keras_layer(name, version, preset):
    """``keras.layers.<name>``, or an error naming the Keras release that added it."""
    layer = getattr(keras.layers, name, None)
    if layer is None:
        raise ImportError(
            f"the {preset!r} augmentation needs keras.layers.{name}, added in Keras {version}, but Keras "
            f"{keras.__version__} is installed; upgrade with: pip install 'keras>={version}'"
        )
    return layer


class _Seeds:
    """Distinct seeds ``seed, seed + 1, ...`` for the layers of a preset (``None`` stays ``None``)."""

    def __init__(self, seed):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise TypeError(f"seed must be None or an int, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        self.count = 0

    def __call__(self):
        if self.seed is None:
            return None
        self.count += 1
        return self.seed + self.count - 1


def _image_size(image_size, preset):
    """``(height, width)`` from an int, a pair or ``None``."""
    return check_image_size(image_size)


def _channels(channels):
    channels = check_positive_int(channels, "channels")
    if channels not in (1, 3):
        raise ValueError(
            f"channels must be 3 (RGB images) or 1 (grayscale images, colour transformations dropped), got {channels}"
        )
    return channels


def blur_kernel_size(image_size):
    """The odd Gaussian-blur kernel side closest below 10 % of the image side (at least 3), as in SimCLR.

    Example:
        >>> blur_kernel_size(224), blur_kernel_size(96), blur_kernel_size(32)
        (23, 9, 3)
    """
    side = min(_image_size(image_size, "blur"))
    kernel = int(0.1 * side)
    return max(3, kernel if kernel % 2 == 1 else kernel + 1)


def color_jitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1, seed=None):
    """A ``keras.layers.RandomColorJitter`` for images in ``[0, 1]`` from the factors used in SSL papers.

    The factors are those of ``torchvision.transforms.ColorJitter`` as the SSL papers state them: contrast factor
    ``c ~ U(1 − contrast, 1 + contrast)``; saturation factor ``~ U(max(0, 1 − saturation), 1 + saturation)``; hue
    shift ``~ U(−hue, hue)`` of a full turn. Brightness is Keras' additive shift ``~ U(−brightness, brightness)``
    (SimCLR's original ``tf.image.random_brightness``), not torchvision's multiplication. Keras applies the four
    adjustments in a fixed order (brightness, contrast, saturation, hue). Needs Keras ≥ 3.8.

    Args:
        brightness: largest additive brightness shift, in ``[0, 1]``.
        contrast: contrast spread, in ``[0, 1]``.
        saturation: saturation spread, ``≥ 0``.
        hue: largest hue shift as a fraction of a turn, in ``[0, 0.5]``.
        seed: seed of the random draws.

    Example:
        >>> jitter = color_jitter(0.4, 0.4, 0.4, 0.1, seed=0)   # SimCLR's jitter at strength 0.5
    """
    layer = _keras_layer("RandomColorJitter", "3.8", "color_jitter")
    brightness = check_number(brightness, "brightness", minimum=0.0, maximum=1.0)
    contrast = check_number(contrast, "contrast", minimum=0.0, maximum=1.0)
    saturation = check_number(saturation, "saturation", minimum=0.0)
    hue = check_number(hue, "hue", minimum=0.0, maximum=0.5)
    # Keras' RandomSaturation multiplies the HSV saturation by f / (1 − f) with f uniform on its factor range.
    low, high = max(0.0, 1.0 - saturation), 1.0 + saturation
    return layer(
        value_range=VALUE_RANGE,
        brightness_factor=brightness or None,
        contrast_factor=contrast or None,
        saturation_factor=(low / (1.0 + low), high / (1.0 + high)) if saturation else None,
        # Keras' RandomHue shifts by ±U(factor)/2 with a random sign.
        hue_factor=(0.0, 2.0 * hue) if hue else None,
        seed=seed,
    )


def _view(preset, *, image_size, scale, jitter, jitter_p, gray_p, blur_p, solarize_p, channels, seeds, name,
          kernel_size=None):
    """One view distribution: crop, flip, colour jitter, grayscale, blur and solarization, as a Sequential."""
    size = _image_size(image_size, preset)
    channels = _channels(channels)
    if blur_p > 0 and size is None and kernel_size is None:
        raise ValueError(
            f"the {preset!r} augmentation blurs with a kernel of 10 % of the image side: pass image_size=... "
            "(or blur=False where the preset takes it)"
        )
    height, width = size if size is not None else (None, None)
    layers = [
        keras.Input(shape=(None, None, channels)),
        CheckChannels(channels, name="channels"),
        RandomResizedCrop(height, width, scale=scale, seed=seeds(), name="crop"),
        keras.layers.RandomFlip("horizontal", seed=seeds(), name="flip"),
    ]
    if channels == 3:
        if jitter_p > 0:
            layers.append(RandomApply(color_jitter(*jitter, seed=seeds()), rate=jitter_p, seed=seeds(), name="jitter"))
        if gray_p > 0:
            # RandomApply draws the choice: Keras' RandomGrayscale leaves its seed out of get_config.
            gray = _keras_layer("RandomGrayscale", "3.8", preset)
            layers.append(RandomApply(gray(factor=1.0), rate=gray_p, seed=seeds(), name="grayscale"))
    if blur_p > 0:
        blur = _keras_layer("RandomGaussianBlur", "3.9", preset)
        kernel = kernel_size if kernel_size is not None else blur_kernel_size(size)
        # reflect the border as torchvision's blur does (Keras' blur pads with zeros and darkens a frame)
        gaussian = blur(factor=(1.0, 1.0), kernel_size=kernel, sigma=BLUR_SIGMA, value_range=VALUE_RANGE, seed=seeds())
        layers.append(RandomApply(ReflectPadded(gaussian, padding=kernel // 2), rate=blur_p, seed=seeds(), name="blur"))
    if solarize_p > 0:
        layers.append(RandomApply(Solarize(0.5, value_range=VALUE_RANGE), rate=solarize_p, seed=seeds(),
                                  name="solarize"))
    return keras.Sequential(layers, name=name)


def _jitter(strength):
    strength = check_number(strength, "strength", minimum=0.0, maximum=1.25)
    return (0.8 * strength, 0.8 * strength, 0.8 * strength, 0.2 * strength)


def simclr_augmenter(image_size=None, *, strength=1.0, scale=(0.08, 1.0), blur=True, channels=3, seed=None):
    """SimCLR's view distribution (Chen et al. 2020, arXiv:2002.05709, Appendix A).

    Random resized crop (area fraction ``scale``, aspect ratio 3/4–4/3), horizontal flip with ``p = 0.5``, colour
    jitter with ``p = 0.8`` (brightness, contrast and saturation ``0.8·strength``, hue ``0.2·strength``), grayscale
    with ``p = 0.2``, and Gaussian blur with ``p = 0.5`` (kernel 10 % of the side, σ ∈ [0.1, 2]; Keras draws one σ
    per batch and axis).

    Args:
        image_size: output side (int) or ``(height, width)``; ``None`` keeps the input size (blur then needs it).
        strength: colour-jitter strength ``s`` (1.0 on ImageNet, 0.5 on CIFAR).
        scale: range of the crop's area fraction.
        blur: add the Gaussian blur.
        channels: 3 for RGB images; 1 for grayscale images (jitter and grayscale dropped).
        seed: seed of the random layers (each layer gets its own seed derived from it).

    Returns:
        ``keras.Sequential`` mapping ``(B, H, W, C)`` images in ``[0, 1]`` to ``(B, height, width, C)``.

    Example:
        >>> import numpy as np
        >>> aug = simclr_augmenter(32, seed=0)
        >>> aug(np.random.rand(8, 32, 32, 3).astype("float32"), training=True).shape
        TensorShape([8, 32, 32, 3])
    """
    return _view("simclr", image_size=image_size, scale=scale, jitter=_jitter(strength), jitter_p=0.8, gray_p=0.2,
                 blur_p=0.5 if blur else 0.0, solarize_p=0.0, channels=channels, seeds=_Seeds(seed),
                 name="simclr_augmenter")


def cifar_augmenter(image_size=None, *, strength=0.5, scale=(0.08, 1.0), channels=3, seed=None):
    """The CIFAR protocol: SimCLR's views with colour strength 0.5 and no blur (Chen et al. 2020, Appendix B.9).

    Random resized crop (area 0.08–1), horizontal flip, colour jitter (0.4, 0.4, 0.4, 0.1) with ``p = 0.8``,
    grayscale with ``p = 0.2``. ``image_size=None`` keeps the input size (32 px for CIFAR).

    Args:
        image_size: output side or ``(height, width)``; ``None`` keeps the input size.
        strength: colour-jitter strength.
        scale: range of the crop's area fraction.
        channels: 3 for RGB images; 1 for grayscale images (jitter and grayscale dropped).
        seed: seed of the random layers.

    Returns:
        ``keras.Sequential``.
    """
    return _view("cifar", image_size=image_size, scale=scale, jitter=_jitter(strength), jitter_p=0.8, gray_p=0.2,
                 blur_p=0.0, solarize_p=0.0, channels=channels, seeds=_Seeds(seed), name="cifar_augmenter")


_BYOL_JITTER = (0.4, 0.4, 0.2, 0.1)


def _asymmetric(preset, image_size, scale, channels, seed):
    seeds = _Seeds(seed)
    common = dict(image_size=image_size, scale=scale, jitter=_BYOL_JITTER, jitter_p=0.8, gray_p=0.2,
                  channels=channels, seeds=seeds)
    return (
        _view(preset, blur_p=1.0, solarize_p=0.0, name=f"{preset}_view1", **common),
        _view(preset, blur_p=0.1, solarize_p=0.2, name=f"{preset}_view2", **common),
    )


def byol_augmenters(image_size=None, *, scale=(0.08, 1.0), channels=3, seed=None):
    """BYOL's two view distributions (Grill et al. 2020, arXiv:2006.07733, Appendix B, Table 6).

    Both views: random resized crop (area ``scale``), horizontal flip, colour jitter (brightness 0.4, contrast 0.4,
    saturation 0.2, hue 0.1) with ``p = 0.8``, grayscale with ``p = 0.2``. View 1: Gaussian blur with ``p = 1.0``,
    no solarization. View 2: blur with ``p = 0.1``, solarization (threshold 0.5) with ``p = 0.2``.

    Args:
        image_size: output side or ``(height, width)`` (needed for the blur kernel).
        scale: range of the crop's area fraction.
        channels: 3 for RGB images; 1 for grayscale images (jitter and grayscale dropped).
        seed: seed of the random layers (the two views get different seeds).

    Returns:
        ``(view1, view2)``: two ``keras.Sequential`` augmenters; pass both to :func:`augmented_pairs`.
    """
    return _asymmetric("byol", image_size, scale, channels, seed)


def vicreg_augmenters(image_size=None, *, scale=(0.08, 1.0), channels=3, seed=None):
    """VICReg's two view distributions (Bardes, Ponce & LeCun 2022, arXiv:2105.04906, Appendix C.1).

    The BYOL views: crop, flip, colour jitter (0.4, 0.4, 0.2, 0.1) with ``p = 0.8``, grayscale with ``p = 0.2``;
    blur with ``p = 1.0`` / ``0.1`` and solarization with ``p = 0`` / ``0.2``.

    Returns:
        ``(view1, view2)``: two ``keras.Sequential`` augmenters.
    """
    return _asymmetric("vicreg", image_size, scale, channels, seed)


def digits_augmenter(shift=0.125, zoom=0.15, rotation=0.03, noise=0.05, seed=None, image_size=None):
    """Augmentations for 8×8 digits: random shift (±1 px), zoom/crop, small rotation and Gaussian noise.

    Args:
        shift: maximum translation as a fraction of the side (0.125 = one pixel of eight).
        zoom: maximum zoom in or out, as a fraction (zooming in crops).
        rotation: maximum rotation as a fraction of a full turn (0.03 ≈ 11°).
        noise: standard deviation of the additive Gaussian noise (images are in ``[0, 1]``).
        seed: seed of the random layers (``None``: nondeterministic); each layer gets its own seed derived from it,
            so that the shift, zoom, rotation and noise are drawn independently.
        image_size: resize the views to this side or ``(height, width)`` (``None``: keep the input size).
    """
    size = _image_size(image_size, "digits")
    seeds = _Seeds(seed)
    layers = [
        keras.layers.RandomTranslation(shift, shift, fill_mode="constant", seed=seeds(), name="shift"),
        keras.layers.RandomZoom((-zoom, zoom), fill_mode="constant", seed=seeds(), name="zoom"),
        keras.layers.RandomRotation(rotation, fill_mode="constant", seed=seeds(), name="rotation"),
    ]
    if noise > 0:
        layers.append(keras.layers.GaussianNoise(noise, seed=seeds(), name="noise"))
    if size is not None:
        layers.append(keras.layers.Resizing(*size, name="resize"))
    return keras.Sequential(layers, name="digits_augmenter")


_SYMMETRIC = {"simclr": simclr_augmenter, "cifar": cifar_augmenter}
_ASYMMETRIC = {"byol": byol_augmenters, "vicreg": vicreg_augmenters}


def multicrop(base="simclr", image_size=None, *, n_small=6, small_size=None, large_scale=(0.14, 1.0),
              small_scale=(0.05, 0.14), channels=3, seed=None, **options):
    """Multi-crop views: two large views of a base preset and ``n_small`` small, low-resolution ones.

    As in SwAV (Caron et al. 2020, arXiv:2006.09882, §3.2: two 224-px crops of area 0.14–1 and six 96-px crops of
    area 0.05–0.14). The large views follow ``base`` (``byol``/``vicreg``: its two views); the small views follow
    ``base`` at ``small_size`` with the area range ``small_scale`` (``byol``/``vicreg``: blur with ``p = 0.5`` and no
    solarization, the local crops of DINO, Caron et al. 2021, arXiv:2104.14294, Appendix D).

    Args:
        base: ``"simclr"``, ``"cifar"``, ``"byol"`` or ``"vicreg"``.
        image_size: side or ``(height, width)`` of the large views (``None``: the input size, where blur allows).
        n_small: number of small views ``V ≥ 0``.
        small_size: side or ``(height, width)`` of the small views; default ``round(96/224 · side)`` of
            ``image_size`` (needed when ``image_size`` is ``None``).
        large_scale, small_scale: area ranges of the large and small crops.
        channels: 3 for RGB images, 1 for grayscale images.
        seed: seed of the random layers (every view gets different seeds).
        **options: further options of the base preset (e.g. ``strength``).

    Returns:
        list of ``2 + n_small`` augmenters: the two large views, then the small ones.

    Example:
        >>> import numpy as np
        >>> views = multicrop("cifar", 32, n_small=4, small_size=16, seed=0)
        >>> [tuple(v(np.random.rand(8, 32, 32, 3).astype("float32"), training=True).shape) for v in views][-1]
        (8, 16, 16, 3)
    """
    if base not in _SYMMETRIC and base not in _ASYMMETRIC:
        raise ValueError(f"multicrop base must be one of {', '.join([*_SYMMETRIC, *_ASYMMETRIC])}, got {base!r}")
    n_small = check_positive_int(n_small, "n_small", minimum=0)
    size = _image_size(image_size, base)
    if small_size is None:
        if size is None:
            raise ValueError("multicrop needs small_size=... (or image_size=..., from which it is derived)")
        small_size = tuple(max(1, round(96 / 224 * side)) for side in size)
    _Seeds(seed)  # validates it
    seed_of = (lambda k: None) if seed is None else (lambda k: int(seed) + 1000 * k)
    if base in _SYMMETRIC:
        build = _SYMMETRIC[base]
        large = [build(size, scale=large_scale, channels=channels, seed=seed_of(k), **options) for k in range(2)]
        small = [build(small_size, scale=small_scale, channels=channels, seed=seed_of(2 + k), **options)
                 for k in range(n_small)]
    else:
        if options:
            raise TypeError(f"unexpected options for the {base!r} multicrop: {', '.join(options)}")
        large = list(_ASYMMETRIC[base](size, scale=large_scale, channels=channels, seed=seed_of(0)))
        small = [
            _view(base, image_size=small_size, scale=small_scale, jitter=_BYOL_JITTER, jitter_p=0.8, gray_p=0.2,
                  blur_p=0.5, solarize_p=0.0, channels=channels, seeds=_Seeds(seed_of(2 + k)),
                  name=f"{base}_small")
            for k in range(n_small)
        ]
    return large + small


AUGMENTERS = {
    "simclr": simclr_augmenter,
    "cifar": cifar_augmenter,
    "byol": byol_augmenters,
    "vicreg": vicreg_augmenters,
    "digits": digits_augmenter,
    "multicrop": multicrop,
}


def augmenter(name, image_size=None, **options):
    """An augmentation preset by name.

    Args:
        name: ``"simclr"``, ``"cifar"``, ``"digits"`` (one augmenter), ``"byol"``, ``"vicreg"`` (a pair, one per
            view) or ``"multicrop"`` (a list: two large views then the small ones; ``base=...`` picks the preset).
        image_size: output side or ``(height, width)``; ``None`` keeps the input size where the preset allows.
        **options: the preset's options (``seed``, ``channels``, ``strength``, ...).

    Returns:
        a ``keras.Sequential`` augmenter, or a tuple/list of them (one per view); images in ``[0, 1]``.

    Example:
        >>> view1, view2 = augmenter("byol", image_size=32, seed=0)
    """
    if name not in AUGMENTERS:
        raise ValueError(f"unknown augmentation preset {name!r}; choose one of: {', '.join(AUGMENTERS)}")
    return AUGMENTERS[name](image_size=image_size, **options)
