"""Augmentation presets: the view distributions of the SSL literature, built from Keras layers.

An augmenter is a ``keras.Sequential`` of random layers, called as ``augmenter(images, training=True)``: each call
draws new transformations, one per image. The same augmenter runs inside ``tf.data``
(:func:`kspectral.data.augmented_pairs`) or inside a model's train step on the accelerator. Presets are
serializable Keras models; their layers are in :mod:`kspectral.data.augmentations`, :mod:`kspectral.data.color`
and :mod:`kspectral.data.blur`, and follow torchvision's and PIL's laws (``spec/protocols.md`` §1): colour jitter
with multiplicative brightness, contrast blended with the grayscale mean, the four adjustments in a random order
per image; a Gaussian blur with one isotropic σ per image; bicubic resizing of the crops.

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
  (0.4, 0.4, 0.2, 0.1) with ``p = 0.8``, grayscale ``p = 0.2``, blur (kernel 10 % of the side) ``p = 1.0`` /
  ``0.1``, solarization ``p = 0`` / ``0.2``; returns a pair of augmenters, one per view.
- ``vicreg``: Bardes, Ponce & LeCun 2022 (arXiv:2105.04906), Appendix C.1: the BYOL views, blurred as the official
  code does (PIL, the kernel sized from σ).
- ``solo_symmetric``, ``solo_symmetric_weak``, ``solo_asymmetric``, ``solo_vicreg``: solo-learn's CIFAR views
  (``scripts/pretrain/cifar/augmentations/*.yaml`` and ``vicreg.yaml``, ``spec/protocols.md`` §3), with PIL's
  σ-sized blur; ``solo_asymmetric`` returns a pair.
- ``digits``: small shifts, zooms, rotations and noise for 8×8 digits.
- ``multicrop``: two large views of a base preset and ``n_small`` small ones (Caron et al. 2020, SwAV,
  arXiv:2006.09882, §3.2); returns a list of augmenters.

Every image preset also takes ``jitter_law`` (``"torchvision"``, the default, or ``"simclr_v1"``: SimCLR v1's
TensorFlow jitter with additive brightness, :class:`~kspectral.data.color.ColorJitter`), ``interpolation``
(``"bicubic"``, the default of every source above, or ``"bilinear"``) and ``normalize`` (``None``, a dataset name of
:data:`~kspectral.data.augmentations.NORMALIZATION` or ``(mean, std)``: a :class:`~kspectral.data.Normalize` layer
after the rest, as solo-learn's pipelines end; the images a model is evaluated on must then be normalised the same
way — ``kspectral train``'s ``normalize`` setting puts the layer in the encoder instead, so every image is).
"""

from __future__ import annotations

import functools
import inspect
import numbers
from dataclasses import dataclass, replace

import keras

from kspectral import catalog
from kspectral._validation import check_image_size, check_number, check_positive_int
from kspectral.data.augmentations import (
    CheckChannels,
    Normalize,
    RandomApply,
    RandomResizedCrop,
    Solarize,
    normalization_stats,
)
from kspectral.data.blur import GaussianBlur
from kspectral.data.color import JITTER_LAWS, ColorJitter, Grayscale
from kspectral.errors import InputError

VALUE_RANGE = (0.0, 1.0)
BLUR_SIGMA = (0.1, 2.0)
#: how a view's blur kernel is sized: ``"sigma"`` (PIL's ``GaussianBlur(radius=σ)``: from σ) or ``"side"``
#: (torchvision's ``GaussianBlur(kernel_size)`` with 10 % of the image side, as SimCLR and BYOL)
BLUR_KERNELS = ("sigma", "side")


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


def _channels(channels):
    channels = check_positive_int(channels, "channels")
    if channels not in (1, 3):
        raise InputError(
            f"channels must be 3 (RGB images) or 1 (grayscale images, colour transformations dropped), got {channels}"
        )
    return channels


def blur_kernel_size(image_size):
    """The odd Gaussian-blur kernel side closest below 10 % of the image side (at least 3), as in SimCLR.

    Example:
        >>> blur_kernel_size(224), blur_kernel_size(96), blur_kernel_size(32)
        (23, 9, 3)
    """
    side = min(check_image_size(image_size))
    kernel = int(0.1 * side)
    return max(3, kernel if kernel % 2 == 1 else kernel + 1)


def color_jitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1, seed=None, law="torchvision"):
    """A :class:`~kspectral.data.color.ColorJitter` from the factors SSL papers state.

    ``law="torchvision"`` (default): ``torchvision.transforms.ColorJitter(brightness, contrast, saturation, hue)``
    applied per image: brightness ``β ~ U(max(0, 1 − b), 1 + b)`` multiplies, contrast ``γ ~ U(max(0, 1 − c),
    1 + c)`` blends with the grayscale mean, saturation ``σ ~ U(max(0, 1 − s), 1 + s)`` blends with the grayscale,
    hue shifts by ``U(−h, h)`` of a turn, in a random order per image. ``law="simclr_v1"``: SimCLR v1's TensorFlow
    jitter (additive brightness ``U(−b, b)``, per-channel contrast, HSV saturation scaling).

    Args:
        brightness, contrast, saturation: spreads ``≥ 0``.
        hue: spread in ``[0, 0.5]`` of a turn.
        seed: seed of the random draws.
        law: ``"torchvision"`` or ``"simclr_v1"``.

    Example:
        >>> jitter = color_jitter(0.4, 0.4, 0.4, 0.1, seed=0)   # SimCLR's jitter at strength 0.5
    """
    return ColorJitter(brightness, contrast, saturation, hue, law=law, seed=seed)


@dataclass(frozen=True)
class ViewSpec:
    """One view distribution of the SSL pipelines: crop, flip, colour jitter, grayscale, blur, solarization.

    Attributes:
        scale: area range of the random resized crop.
        jitter: ``(brightness, contrast, saturation, hue)`` spreads of the colour jitter.
        jitter_p, gray_p, blur_p, solarize_p: probabilities of the jitter, grayscale, blur and solarization.
        blur_kernel: ``"sigma"`` (PIL's, sized from σ) or ``"side"`` (10 % of the image side).
    """

    scale: tuple = (0.08, 1.0)
    jitter: tuple = (0.4, 0.4, 0.4, 0.1)
    jitter_p: float = 0.8
    gray_p: float = 0.2
    blur_p: float = 0.0
    blur_kernel: str = "sigma"
    solarize_p: float = 0.0


def build_view(spec, preset, *, image_size=None, channels=3, seed=None, name=None, jitter_law="torchvision",
               interpolation="bicubic", normalize=None, seeds=None):
    """The ``keras.Sequential`` augmenter of one :class:`ViewSpec`.

    Layers, in order: the channel check, the random resized crop (``interpolation``), the horizontal flip
    (``p = 0.5``), the colour jitter (RGB only), grayscale (RGB only), the Gaussian blur, solarization (threshold
    ½), and ``normalize`` when given. Flip commutes with the pixel-wise steps and the isotropic blur, so its place
    does not change the law (solo-learn flips last).

    Args:
        spec: the :class:`ViewSpec`.
        preset: the preset's name, for error messages.
        image_size: output side or ``(height, width)`` (``None``: the input size; a ``"side"`` blur needs it).
        channels: 3 (RGB) or 1 (grayscale: jitter and grayscale dropped).
        seed: seed of the view's layers (each layer gets its own, ``seed, seed + 1, …``).
        name: the Sequential's name.
        jitter_law, interpolation, normalize: as the module's docstring says.
        seeds: a shared seed counter (instead of ``seed``), so that the views of one preset get distinct seeds.
    """
    size = check_image_size(image_size)
    channels = _channels(channels)
    if jitter_law not in JITTER_LAWS:
        raise InputError(f"unknown jitter_law {jitter_law!r}; choose one of: {', '.join(JITTER_LAWS)}")
    if spec.blur_kernel not in BLUR_KERNELS:
        raise InputError(f"unknown blur kernel {spec.blur_kernel!r}; choose one of: {', '.join(BLUR_KERNELS)}")
    if spec.blur_p > 0 and spec.blur_kernel == "side" and size is None:
        raise InputError(
            f"the {preset!r} augmentation blurs with a kernel of 10 % of the image side: pass image_size=... "
            "(or blur=False where the preset takes it)"
        )
    seeds = seeds if seeds is not None else _Seeds(seed)
    height, width = size if size is not None else (None, None)
    layers = [
        keras.Input(shape=(None, None, channels)),
        CheckChannels(channels, name="channels"),
        RandomResizedCrop(height, width, scale=spec.scale, seed=seeds(), interpolation=interpolation,
                          value_range=VALUE_RANGE, name="crop"),
        keras.layers.RandomFlip("horizontal", seed=seeds(), name="flip"),
    ]
    if channels == 3:
        if spec.jitter_p > 0 and any(spec.jitter):
            jitter = color_jitter(*spec.jitter, seed=seeds(), law=jitter_law)
            layers.append(RandomApply(jitter, rate=spec.jitter_p, seed=seeds(), name="jitter"))
        if spec.gray_p > 0:
            layers.append(RandomApply(Grayscale(), rate=spec.gray_p, seed=seeds(), name="grayscale"))
    if spec.blur_p > 0:
        kernel = blur_kernel_size(size) if spec.blur_kernel == "side" else None
        blur = GaussianBlur(BLUR_SIGMA, kernel_size=kernel, seed=seeds())
        layers.append(RandomApply(blur, rate=spec.blur_p, seed=seeds(), name="blur"))
    if spec.solarize_p > 0:
        layers.append(RandomApply(Solarize(0.5, value_range=VALUE_RANGE), rate=spec.solarize_p, seed=seeds(),
                                  name="solarize"))
    if normalize is not None:
        mean, std = normalization_stats(normalize, channels)
        layers.append(Normalize(mean, std, name="normalize"))
    return keras.Sequential(layers, name=name or f"{preset}_augmenter")


def _jitter(strength):
    strength = check_number(strength, "strength", minimum=0.0, maximum=1.25)
    return (0.8 * strength, 0.8 * strength, 0.8 * strength, 0.2 * strength)


def _views(preset, specs, image_size, channels, seed, common):
    """The augmenters of a preset's :class:`ViewSpec` s (one Sequential per spec, distinct seeds)."""
    seeds = _Seeds(seed)
    names = [f"{preset}_augmenter"] if len(specs) == 1 else [f"{preset}_view{i + 1}" for i in range(len(specs))]
    return [build_view(spec, preset, image_size=image_size, channels=channels, name=name, seeds=seeds, **common)
            for spec, name in zip(specs, names)]


def simclr_augmenter(image_size=None, *, strength=1.0, scale=(0.08, 1.0), blur=True, channels=3, seed=None,
                     jitter_law="torchvision", interpolation="bicubic", normalize=None, blur_kernel="side"):
    """SimCLR's view distribution (Chen et al. 2020, arXiv:2002.05709, Appendix A).

    Random resized crop (area fraction ``scale``, aspect ratio 3/4–4/3, bicubic), horizontal flip with
    ``p = 0.5``, colour jitter with ``p = 0.8`` (brightness, contrast and saturation ``0.8·strength``, hue
    ``0.2·strength``), grayscale with ``p = 0.2``, and Gaussian blur with ``p = 0.5`` (a kernel of 10 % of the side,
    one σ ~ U(0.1, 2) per image; ``blur_kernel="sigma"``: PIL's σ-sized kernel, as Lightly's ``SimCLRTransform``).

    Args:
        image_size: output side (int) or ``(height, width)``; ``None`` keeps the input size (blur then needs it).
        strength: colour-jitter strength ``s`` (1.0 on ImageNet, 0.5 on CIFAR).
        scale: range of the crop's area fraction.
        blur: add the Gaussian blur.
        channels: 3 for RGB images; 1 for grayscale images (jitter and grayscale dropped).
        seed: seed of the random layers (each layer gets its own seed derived from it).
        jitter_law, interpolation, normalize: see the module's docstring.
        blur_kernel: ``"side"`` (SimCLR's 10 % of the image side) or ``"sigma"`` (PIL's, sized from σ).

    Returns:
        ``keras.Sequential`` mapping ``(B, H, W, C)`` images in ``[0, 1]`` to ``(B, height, width, C)``.

    Example:
        >>> import numpy as np
        >>> aug = simclr_augmenter(32, seed=0)
        >>> aug(np.random.rand(8, 32, 32, 3).astype("float32"), training=True).shape
        TensorShape([8, 32, 32, 3])
    """
    spec = ViewSpec(scale=tuple(scale), jitter=_jitter(strength), blur_p=0.5 if blur else 0.0, blur_kernel=blur_kernel)
    common = dict(jitter_law=jitter_law, interpolation=interpolation, normalize=normalize)
    return _views("simclr", [spec], image_size, channels, seed, common)[0]


def cifar_augmenter(image_size=None, *, strength=0.5, scale=(0.08, 1.0), channels=3, seed=None,
                    jitter_law="torchvision", interpolation="bicubic", normalize=None):
    """The CIFAR protocol: SimCLR's views with colour strength 0.5 and no blur (Chen et al. 2020, Appendix B.9).

    Random resized crop (area 0.08–1), horizontal flip, colour jitter (0.4, 0.4, 0.4, 0.1) with ``p = 0.8``,
    grayscale with ``p = 0.2``. ``image_size=None`` keeps the input size (32 px for CIFAR).

    Args:
        image_size: output side or ``(height, width)``; ``None`` keeps the input size.
        strength: colour-jitter strength.
        scale: range of the crop's area fraction.
        channels: 3 for RGB images; 1 for grayscale images (jitter and grayscale dropped).
        seed: seed of the random layers.
        jitter_law, interpolation, normalize: see the module's docstring.

    Returns:
        ``keras.Sequential``.
    """
    spec = ViewSpec(scale=tuple(scale), jitter=_jitter(strength))
    common = dict(jitter_law=jitter_law, interpolation=interpolation, normalize=normalize)
    return _views("cifar", [spec], image_size, channels, seed, common)[0]


_BYOL_JITTER = (0.4, 0.4, 0.2, 0.1)


def _byol_specs(scale, blur_kernel):
    common = ViewSpec(scale=tuple(scale), jitter=_BYOL_JITTER, blur_kernel=blur_kernel)
    return [replace(common, blur_p=1.0), replace(common, blur_p=0.1, solarize_p=0.2)]


def byol_augmenters(image_size=None, *, scale=(0.08, 1.0), channels=3, seed=None, jitter_law="torchvision",
                    interpolation="bicubic", normalize=None):
    """BYOL's two view distributions (Grill et al. 2020, arXiv:2006.07733, Appendix B, Table 6).

    Both views: random resized crop (area ``scale``), horizontal flip, colour jitter (brightness 0.4, contrast 0.4,
    saturation 0.2, hue 0.1) with ``p = 0.8``, grayscale with ``p = 0.2``. View 1: Gaussian blur (a kernel of 10 %
    of the side, 23 px at 224, as the paper's) with ``p = 1.0``, no solarization. View 2: blur with ``p = 0.1``,
    solarization (threshold 0.5) with ``p = 0.2``.

    Args:
        image_size: output side or ``(height, width)`` (needed for the blur kernel).
        scale: range of the crop's area fraction.
        channels: 3 for RGB images; 1 for grayscale images (jitter and grayscale dropped).
        seed: seed of the random layers (the two views get different seeds).
        jitter_law, interpolation, normalize: see the module's docstring.

    Returns:
        ``(view1, view2)``: two ``keras.Sequential`` augmenters; pass both to :func:`augmented_pairs`.
    """
    common = dict(jitter_law=jitter_law, interpolation=interpolation, normalize=normalize)
    return tuple(_views("byol", _byol_specs(scale, "side"), image_size, channels, seed, common))


def vicreg_augmenters(image_size=None, *, scale=(0.08, 1.0), channels=3, seed=None, jitter_law="torchvision",
                      interpolation="bicubic", normalize=None):
    """VICReg's two view distributions (Bardes, Ponce & LeCun 2022, arXiv:2105.04906, Appendix C.1).

    The BYOL views: crop, flip, colour jitter (0.4, 0.4, 0.2, 0.1) with ``p = 0.8``, grayscale with ``p = 0.2``;
    blur with ``p = 1.0`` / ``0.1`` and solarization with ``p = 0`` / ``0.2``. The blur is the official code's
    ``PIL.ImageFilter.GaussianBlur(radius=σ)``, σ ~ U(0.1, 2): its kernel follows σ (not the image side).

    Returns:
        ``(view1, view2)``: two ``keras.Sequential`` augmenters.
    """
    common = dict(jitter_law=jitter_law, interpolation=interpolation, normalize=normalize)
    return tuple(_views("vicreg", _byol_specs(scale, "sigma"), image_size, channels, seed, common))


#: solo-learn's CIFAR augmentation sets (``scripts/pretrain/cifar/augmentations/*.yaml``, commit 9187ea3; the VICReg
#: set is inline in ``vicreg.yaml``): every set crops (bicubic), flips with p 0.5, jitters with p 0.8 and turns
#: grayscale with p 0.2; blur is PIL's σ-sized blur
SOLO_VIEWS = {
    "solo_symmetric": [ViewSpec(jitter=(0.8, 0.8, 0.8, 0.2), blur_p=0.5)],
    "solo_symmetric_weak": [ViewSpec(jitter=(0.4, 0.4, 0.4, 0.1), blur_p=0.5)],
    "solo_asymmetric": [ViewSpec(jitter=(0.4, 0.4, 0.2, 0.1)),
                        ViewSpec(jitter=(0.4, 0.4, 0.2, 0.1), solarize_p=0.2)],
    "solo_vicreg": [ViewSpec(scale=(0.2, 1.0), jitter=(0.4, 0.4, 0.2, 0.1), solarize_p=0.1)],
}


def solo_augmenters(name, image_size=None, *, channels=3, seed=None, jitter_law="torchvision",
                    interpolation="bicubic", normalize=None):
    """One of solo-learn's CIFAR view distributions (:data:`SOLO_VIEWS`, ``spec/protocols.md`` §3).

    - ``solo_symmetric`` (SimCLR, SwAV): jitter (0.8, 0.8, 0.8, 0.2), blur ``p = 0.5``;
    - ``solo_symmetric_weak`` (SimSiam, MoCo v2+): jitter (0.4, 0.4, 0.4, 0.1), blur ``p = 0.5``;
    - ``solo_asymmetric`` (Barlow Twins, BYOL, MoCo v3, NNCLR, DINO): jitter (0.4, 0.4, 0.2, 0.1), no blur,
      solarization ``p = 0`` / ``0.2``: two views;
    - ``solo_vicreg`` (VICReg): crop area 0.2–1, jitter (0.4, 0.4, 0.2, 0.1), solarization ``p = 0.1``.

    All: crop area 0.08–1 (``solo_vicreg``: 0.2–1), bicubic, flip ``p = 0.5``, jitter ``p = 0.8``, grayscale
    ``p = 0.2``. solo-learn then normalises with the dataset's mean and std (``normalize=...`` here, or
    ``kspectral train``'s ``normalize`` setting).

    Returns:
        one ``keras.Sequential`` (symmetric sets: both views), or a pair (``solo_asymmetric``).
    """
    if name not in SOLO_VIEWS:
        raise InputError(f"unknown solo-learn view set {name!r}; choose one of: {', '.join(SOLO_VIEWS)}")
    common = dict(jitter_law=jitter_law, interpolation=interpolation, normalize=normalize)
    views = _views(name, SOLO_VIEWS[name], image_size, channels, seed, common)
    return views[0] if len(views) == 1 else tuple(views)


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
    size = check_image_size(image_size)
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


#: the presets multi-crop builds on: name → its views' :class:`ViewSpec` s from (large crops' area range, options)
def _base_specs(base, scale, options):
    if base == "simclr":
        return [ViewSpec(scale=scale, jitter=_jitter(options.pop("strength", 1.0)), blur_p=0.5, blur_kernel="side")]
    if base == "cifar":
        return [ViewSpec(scale=scale, jitter=_jitter(options.pop("strength", 0.5)))]
    if base in ("byol", "vicreg"):
        return _byol_specs(scale, "side" if base == "byol" else "sigma")
    return [replace(spec, scale=scale) for spec in SOLO_VIEWS[base]]


MULTICROP_BASES = ("simclr", "cifar", "byol", "vicreg", *SOLO_VIEWS)


def multicrop(base="simclr", image_size=None, *, n_small=6, small_size=None, large_scale=(0.14, 1.0),
              small_scale=(0.05, 0.14), channels=3, seed=None, jitter_law="torchvision", interpolation="bicubic",
              normalize=None, **options):
    """Multi-crop views: two large views of a base preset and ``n_small`` small, low-resolution ones.

    As in SwAV (Caron et al. 2020, arXiv:2006.09882, §3.2: two 224-px crops of area 0.14–1 and six 96-px crops of
    area 0.05–0.14). The large views follow ``base`` (a two-view base, e.g. ``byol``: its two views) with the area
    range ``large_scale``; the small views follow ``base``'s first view at ``small_size`` with the area range
    ``small_scale`` (``byol``/``vicreg``: blur with ``p = 0.5`` and no solarization, the local crops of DINO, Caron
    et al. 2021, arXiv:2104.14294, Appendix D).

    Args:
        base: a preset of :data:`MULTICROP_BASES` (``"simclr"``, ``"cifar"``, ``"byol"``, ``"vicreg"`` or a
            ``solo_*`` set).
        image_size: side or ``(height, width)`` of the large views (``None``: the input size, where blur allows).
        n_small: number of small views ``V ≥ 0``.
        small_size: side or ``(height, width)`` of the small views; default ``round(96/224 · side)`` of
            ``image_size`` (needed when ``image_size`` is ``None``).
        large_scale, small_scale: area ranges of the large and small crops.
        channels: 3 for RGB images, 1 for grayscale images.
        seed: seed of the random layers (every view gets different seeds).
        jitter_law, interpolation, normalize: as the presets' (module docstring).
        **options: further options of the base preset (``strength`` for ``simclr`` and ``cifar``).

    Returns:
        list of ``2 + n_small`` augmenters: the two large views, then the small ones.

    Example:
        >>> import numpy as np
        >>> views = multicrop("cifar", 32, n_small=4, small_size=16, seed=0)
        >>> [tuple(v(np.random.rand(8, 32, 32, 3).astype("float32"), training=True).shape) for v in views][-1]
        (8, 16, 16, 3)
    """
    if base not in MULTICROP_BASES:
        raise InputError(f"multicrop base must be one of {', '.join(MULTICROP_BASES)}, got {base!r}")
    n_small = check_positive_int(n_small, "n_small", minimum=0)
    size = check_image_size(image_size)
    if small_size is None:
        if size is None:
            raise InputError("multicrop needs small_size=... (or image_size=..., from which it is derived)")
        small_size = tuple(max(1, round(96 / 224 * side)) for side in size)
    _Seeds(seed)  # validates it
    options = dict(options)
    large_specs = _base_specs(base, tuple(large_scale), options)
    if options:
        raise TypeError(f"unexpected options for the {base!r} multicrop: {', '.join(options)}")
    small_spec = replace(large_specs[0], scale=tuple(small_scale), solarize_p=0.0)
    if base in ("byol", "vicreg"):
        small_spec = replace(small_spec, blur_p=0.5)
    common = dict(channels=channels, jitter_law=jitter_law, interpolation=interpolation, normalize=normalize)
    seed_of = (lambda k: None) if seed is None else (lambda k: int(seed) + 1000 * k)
    large = [build_view(large_specs[k % len(large_specs)], base, image_size=size, seed=seed_of(k),
                        name=f"{base}_view{k + 1}", **common) for k in range(2)]
    small = [build_view(small_spec, base, image_size=small_size, seed=seed_of(2 + k), name=f"{base}_small{k + 1}",
                        **common) for k in range(n_small)]
    return large + small


AUGMENTERS = {
    "simclr": simclr_augmenter,
    "cifar": cifar_augmenter,
    "byol": byol_augmenters,
    "vicreg": vicreg_augmenters,
    **{name: functools.partial(solo_augmenters, name) for name in SOLO_VIEWS},
    "digits": digits_augmenter,
    "multicrop": multicrop,
}
catalog.check_registry("augmentation preset", AUGMENTERS, catalog.AUGMENTERS)


def augmenter(name, image_size=None, **options):
    """An augmentation preset by name.

    Args:
        name: ``"simclr"``, ``"cifar"``, ``"solo_symmetric"``, ``"solo_symmetric_weak"``, ``"solo_vicreg"``,
            ``"digits"`` (one augmenter), ``"byol"``, ``"vicreg"``, ``"solo_asymmetric"`` (a pair, one per view) or
            ``"multicrop"`` (a list: two large views then the small ones; ``base=...`` picks the preset).
        image_size: output side or ``(height, width)``; ``None`` keeps the input size where the preset allows.
        **options: the preset's options (``seed``, ``channels``, ``strength``, ...).

    Returns:
        a ``keras.Sequential`` augmenter, or a tuple/list of them (one per view); images in ``[0, 1]``.

    Example:
        >>> view1, view2 = augmenter("byol", image_size=32, seed=0)
    """
    if name not in AUGMENTERS:
        raise InputError(f"unknown augmentation preset {name!r}; choose one of: {', '.join(AUGMENTERS)}")
    return AUGMENTERS[name](image_size=image_size, **options)


def preset_views(name, options=None):
    """How many views the preset ``name`` makes with ``options``: ``2 + n_small`` for ``multicrop`` (default 6 small
    views), else 2 (a single augmenter serves both views of a pair).

    Example:
        >>> preset_views("cifar"), preset_views("multicrop"), preset_views("multicrop", {"n_small": 2})
        (2, 8, 4)
    """
    if name != "multicrop":
        return 2
    n_small = (options or {}).get("n_small", inspect.signature(multicrop).parameters["n_small"].default)
    if isinstance(n_small, bool) or not isinstance(n_small, int) or n_small < 0:
        raise InputError(f"augment_options.n_small must be an integer ≥ 0 (the number of small views), got {n_small!r}")
    return 2 + n_small
