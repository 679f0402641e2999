"""Measurements of augmentation laws from images alone, shared by the torchvision generator and the test.

``benchmarks/torchvision_laws.py`` (run with PyTorch and torchvision) and ``tests/test_augmentation_laws.py`` (run
with Keras) draw the same probe images (:func:`probe_images`), apply one isolated transform per setting of
:data:`SETTINGS`, and measure its effect with the functions below. Every measurement takes the input and output
images, float arrays in ``[0, 1]`` of shape ``(N, H, W, 3)``, and returns one number (or flag) per image recovered
from the pixels alone: no random state or constant of the transform enters it. This module imports numpy only, so
that both environments load it.
"""

from __future__ import annotations

import functools
import math

import numpy as np

#: quantile levels stored and compared
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
#: seed of the probe images
PROBE_SEED = 20261201
#: ITU-R 601-2 luma weights (PIL's ``convert("L")``)
LUMA = np.array([0.299, 0.587, 0.114])
#: an orthonormal basis of the colour offsets ``d`` with ``LUMA · d = 0`` (grey-preserving)
_NEUTRAL = np.linalg.svd(LUMA[None, :])[2][1:]
#: side of the coordinate-encoding image the crop boxes are recovered from, and of the crops
CROP_INPUT = 64
CROP_OUTPUT = 32
#: side of the colour, order and rate probes (each of their measurements pools the whole image, and 256 pixels
#: pin it down), and of the blur's edges (CIFAR's side, at which solo-learn blurs)
SIDE = 16
BLUR_SIDE = 32
#: output pixels dropped at each end of a crop's coordinate ramp before fitting it (the bicubic kernel uses the
#: box's own pixels only, so the ramp bends within two input pixels of the box's edges)
CROP_MARGIN = 4
#: two pixel values differ when they differ by more than this (half an 8-bit grey level)
LEVEL = 0.5 / 255.0
#: channel means of the ``"mid"`` probe (its grayscale mean is 0.4815: a blend with each channel's own mean and
#: a blend with the grayscale mean move the channels differently)
MID_CHANNEL_MEANS = (0.4, 0.5, 0.6)
#: nominal parameters per transform in the measurements' resolution check (:func:`nominal_grid`)
GRID_POINTS = 41

#: the isolated transforms compared. ``probe`` names the images (:func:`probe_images`); ``measures`` the
#: per-image measurements whose quantiles are compared; ``rates`` the per-image flags whose mean is compared;
#: ``law`` the analytic law of each measure (``("uniform", low, high)``, ``("crop", scale, ratio)``) or rate.
SETTINGS = {
    "crop_scale_0.08": dict(transform="RandomResizedCrop", params=dict(size=CROP_OUTPUT, scale=(0.08, 1.0)),
                            probe="coordinates", measures=("area_fraction", "aspect_ratio"),
                            law=("crop", (0.08, 1.0), (3 / 4, 4 / 3))),
    "crop_scale_0.2": dict(transform="RandomResizedCrop", params=dict(size=CROP_OUTPUT, scale=(0.2, 1.0)),
                           probe="coordinates", measures=("area_fraction", "aspect_ratio"),
                           law=("crop", (0.2, 1.0), (3 / 4, 4 / 3))),
    "brightness_0.4": dict(transform="ColorJitter", params=dict(brightness=0.4), probe="dim",
                           measures=("brightness_factor",), law=("uniform", 0.6, 1.4)),
    "brightness_0.8": dict(transform="ColorJitter", params=dict(brightness=0.8), probe="dim",
                           measures=("brightness_factor",), law=("uniform", 0.2, 1.8)),
    "contrast_0.4": dict(transform="ColorJitter", params=dict(contrast=0.4), probe="mid",
                         measures=("contrast_factor", "contrast_pivot_spread"), law=("uniform", 0.6, 1.4)),
    "contrast_0.8": dict(transform="ColorJitter", params=dict(contrast=0.8), probe="mid",
                         measures=("contrast_factor", "contrast_pivot_spread"), law=("uniform", 0.2, 1.8)),
    "saturation_0.2": dict(transform="ColorJitter", params=dict(saturation=0.2), probe="muted",
                           measures=("saturation_factor",), law=("uniform", 0.8, 1.2)),
    "saturation_0.4": dict(transform="ColorJitter", params=dict(saturation=0.4), probe="muted",
                           measures=("saturation_factor",), law=("uniform", 0.6, 1.4)),
    "saturation_0.8": dict(transform="ColorJitter", params=dict(saturation=0.8), probe="muted",
                           measures=("saturation_factor",), law=("uniform", 0.2, 1.8)),
    "hue_0.1": dict(transform="ColorJitter", params=dict(hue=0.1), probe="vivid", measures=("hue_shift",),
                    law=("uniform", -0.1, 0.1)),
    "hue_0.2": dict(transform="ColorJitter", params=dict(hue=0.2), probe="vivid", measures=("hue_shift",),
                    law=("uniform", -0.2, 0.2)),
    "blur_sigma_0.1_2": dict(transform="GaussianBlur", params=dict(sigma=(0.1, 2.0)), probe="edges",
                             measures=("blur_sigma", "blur_anisotropy"), law=("uniform", 0.1, 2.0)),
    "jitter_order": dict(transform="ColorJitter", params=dict(brightness=0.8, contrast=0.8), probe="ramp",
                         rates=("contrast_before_brightness",), law=("order", 0.8, 0.8)),
    "jitter_p0.8": dict(transform="RandomApply(ColorJitter)",
                        params=dict(p=0.8, brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1),
                        probe="noise", rates=("changed",), law=("rate", 0.8)),
    "grayscale_p0.2": dict(transform="RandomGrayscale", params=dict(p=0.2), probe="noise",
                           rates=("grayscaled",), law=("rate", 0.2)),
    "solarize_p0.2": dict(transform="RandomApply(Solarization)", params=dict(p=0.2), probe="noise",
                          measures=("solarization_threshold",), rates=("solarized",), law=("rate", 0.2)),
    "flip_p0.5": dict(transform="RandomHorizontalFlip", params=dict(p=0.5), probe="noise", rates=("flipped",),
                      law=("rate", 0.5)),
}


# ---------------------------------------------------------------------------------------------------------- probes
def probe_images(kind, n, seed=PROBE_SEED):
    """``n`` probe images ``(n, H, W, 3)``, uint8 (as solo-learn's datasets hand PIL images to the transforms),
    except ``"coordinates"``, float64 (one image broadcast to ``n``, read-only).

    Kinds:

    - ``"coordinates"``: ``CROP_INPUT`` px, float (not rounded, so that the crop box is recovered to a small
      fraction of a pixel; the generator resamples its channels as PIL ``"F"`` images, whose crop boxes follow the
      same law and whose bicubic resampling is that of 8-bit images without the rounding); channel 0 =
      ``(x + ½)/W``, channel 1 = ``(y + ½)/H``, channel 2 = ½;
    - ``"dim"``: uniform noise in ``[0.2, 0.55]`` (a brightness factor up to 1.8 does not clip);
    - ``"mid"``: channel ``c`` uniform in ``MID_CHANNEL_MEANS[c] ± 0.15`` (channel means that differ from the
      grayscale mean, and a contrast factor up to 1.8 does not clip);
    - ``"muted"``: grey ``0.5 ± 0.02`` plus a luma-neutral colour offset of up to 0.26 per channel (a saturation
      factor up to 1.8 does not clip);
    - ``"vivid"``: random hues at HSV saturation and value in ``[0.6, 1]``;
    - ``"edges"``: ``BLUR_SIDE`` px; channel 0 a vertical step edge (0 left of the middle column, 1 from it on),
      channel 1 a horizontal one, channel 2 = ½;
    - ``"ramp"``: a grey horizontal ramp from 0 to 1;
    - ``"noise"``: uniform noise in ``[0, 1]`` per pixel and channel, with each of the 256 grey levels once among
      an image's first 256 values (row-major, channels last).
    """
    rng = np.random.default_rng([seed, sum(map(ord, kind))])
    side = {"coordinates": CROP_INPUT, "edges": BLUR_SIDE}.get(kind, SIDE)
    centres = (np.arange(side) + 0.5) / side
    if kind == "coordinates":
        x = np.broadcast_to(centres[None, :], (side, side))
        y = np.broadcast_to(centres[:, None], (side, side))
        image = np.stack([x, y, np.full((side, side), 0.5)], axis=-1)
        return np.broadcast_to(image, (n, side, side, 3))
    elif kind == "dim":
        images = rng.uniform(0.2, 0.55, (n, side, side, 3))
    elif kind == "mid":
        images = np.array(MID_CHANNEL_MEANS) + rng.uniform(-0.15, 0.15, (n, side, side, 3))
    elif kind == "muted":
        # a luma-neutral colour offset (LUMA · d = 0) of up to 0.26 per channel around grey 0.5 ± 0.02
        angle = rng.uniform(0.0, 2.0 * np.pi, (n, side, side, 1))
        d = np.cos(angle) * _NEUTRAL[0] + np.sin(angle) * _NEUTRAL[1]
        d *= 0.26 * rng.uniform(0.5, 1.0, (n, side, side, 1)) / np.abs(d).max(axis=-1, keepdims=True)
        images = 0.5 + rng.uniform(-0.02, 0.02, (n, side, side, 1)) + d
    elif kind == "vivid":
        hsv = np.stack([rng.uniform(0.0, 1.0, (n, side, side)), rng.uniform(0.6, 1.0, (n, side, side)),
                        rng.uniform(0.6, 1.0, (n, side, side))], axis=-1)
        images = hsv_to_rgb(hsv)
    elif kind == "edges":
        step = (np.arange(side) >= side // 2).astype(float)
        image = np.stack([np.broadcast_to(step[None, :], (side, side)), np.broadcast_to(step[:, None], (side, side)),
                          np.full((side, side), 0.5)], axis=-1)
        images = np.broadcast_to(image, (n, side, side, 3))
    elif kind == "ramp":
        ramp = np.arange(side) / (side - 1)
        images = np.broadcast_to(ramp[None, None, :, None], (n, side, side, 3))
    elif kind == "noise":
        images = np.round(rng.uniform(0.0, 1.0, (n, side, side, 3)) * 255.0) / 255.0
        # every 8-bit level once among each image's first 256 values, so that a threshold shows exactly
        images.reshape(n, -1)[:, :256] = rng.permuted(np.tile(np.arange(256) / 255.0, (n, 1)), axis=1)
    else:
        raise ValueError(f"unknown probe {kind!r}")
    return np.ascontiguousarray(np.clip(np.round(images * 255.0), 0, 255).astype(np.uint8))


def to_float(images):
    """uint8 images to float64 in ``[0, 1]`` (float images as they are, in float64, without a copy if they are)."""
    images = np.asarray(images)
    return images.astype(np.float64) / 255.0 if images.dtype == np.uint8 else np.asarray(images, np.float64)


# ------------------------------------------------------------------------------------------------------ colour maths
def gray(images):
    """Luma ``0.299 R + 0.587 G + 0.114 B`` ``(N, H, W)``."""
    return np.asarray(images, dtype=np.float64) @ LUMA


def rgb_to_hsv(images):
    """RGB ``(..., 3)`` to HSV ``(..., 3)``, hue in turns ``[0, 1)`` (the hexcone model of ``colorsys``)."""
    images = np.asarray(images, dtype=np.float64)
    r, g, b = images[..., 0], images[..., 1], images[..., 2]
    value = images.max(axis=-1)
    chroma = value - images.min(axis=-1)
    safe = np.where(chroma > 0, chroma, 1.0)
    hue = np.where(value == r, (g - b) / safe, np.where(value == g, 2.0 + (b - r) / safe, 4.0 + (r - g) / safe))
    hue = np.where(chroma > 0, hue / 6.0 % 1.0, 0.0)
    saturation = np.where(value > 0, chroma / np.where(value > 0, value, 1.0), 0.0)
    return np.stack([hue, saturation, value], axis=-1)


def hsv_to_rgb(images):
    """HSV ``(..., 3)`` (hue in turns) to RGB ``(..., 3)``."""
    images = np.asarray(images, dtype=np.float64)
    hue, saturation, value = images[..., 0] % 1.0, images[..., 1], images[..., 2]
    channels = []
    for n in (5.0, 3.0, 1.0):
        k = (n + 6.0 * hue) % 6.0
        channels.append(value - value * saturation * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0))
    return np.stack(channels, axis=-1)


# -------------------------------------------------------------------------------------------------------- crop boxes
def _fit_ramp(profile, in_size, out_size, margin):
    """Start and length (input pixels) of the box whose coordinate ramp ``profile`` ``(N, out_size)`` samples.

    Output pixel ``k`` of a box ``[start, start + length)`` resized to ``out_size`` samples the input at
    ``start + (k + ½)·length/out_size``, and the coordinate image holds ``(x + ½)/in_size`` at pixel centre ``x``,
    so the ramp is ``(start + (k + ½)·length/out_size)/in_size``: a least-squares line through the interior
    pixels gives both.
    """
    k = np.arange(margin, out_size - margin) + 0.5
    values = profile[:, margin:out_size - margin] * in_size
    k_mean = k.mean()
    slope = ((values - values.mean(axis=1, keepdims=True)) * (k - k_mean)).sum(axis=1) / ((k - k_mean) ** 2).sum()
    intercept = values.mean(axis=1) - slope * k_mean
    return intercept, slope * out_size


def crop_boxes(inputs, outputs, margin=CROP_MARGIN):
    """The boxes ``(top, left, height, width)`` (arrays ``(N,)``, input pixels) that produced ``outputs`` from the
    ``"coordinates"`` probe ``inputs``."""
    in_h, in_w = np.shape(inputs)[1:3]
    outputs = np.asarray(outputs, dtype=np.float64)
    out_h, out_w = outputs.shape[1:3]
    left, width = _fit_ramp(outputs[..., 0].mean(axis=1), in_w, out_w, margin)
    top, height = _fit_ramp(outputs[..., 1].mean(axis=2), in_h, out_h, margin)
    return top, left, height, width


def area_fraction(inputs, outputs):
    """The crop box's area as a fraction of the input's area."""
    _, _, height, width = crop_boxes(inputs, outputs)
    in_h, in_w = np.shape(inputs)[1:3]
    return height * width / (in_h * in_w)


def aspect_ratio(inputs, outputs):
    """The crop box's aspect ratio, width / height."""
    _, _, height, width = crop_boxes(inputs, outputs)
    return width / height


# ------------------------------------------------------------------------------------------------------ colour laws
def brightness_factor(inputs, outputs):
    """``β`` of ``y = β·x``: least squares through the origin over the pixels where neither is clipped."""
    x, y = np.asarray(inputs, np.float64), np.asarray(outputs, np.float64)
    keep = (y > LEVEL) & (y < 1.0 - LEVEL)
    return (x * y * keep).sum(axis=(1, 2, 3)) / (x * x * keep).sum(axis=(1, 2, 3))


def contrast_factor(inputs, outputs):
    """The ratio of the grayscale's standard deviation, out / in (``γ`` of a blend with any constant)."""
    return gray(outputs).std(axis=(1, 2)) / gray(inputs).std(axis=(1, 2))


def contrast_pivot_spread(inputs, outputs, min_change=0.2):
    """The spread (max − min over the channels) of the value each channel is blended with by a contrast change.

    Each channel's output is fitted as ``γ_c·x_c + b_c`` (least squares over the pixels); its pivot, the value the
    blend leaves in place, is ``b_c / (1 − γ_c)``. torchvision blends every channel with the one grayscale mean
    (spread 0); a blend with each channel's own mean gives the spread of the channel means (0.2 on the ``"mid"``
    probe). NaN where ``|1 − γ| < min_change`` (the pivot is ill-conditioned near ``γ = 1``).
    """
    x = np.asarray(inputs, np.float64).reshape(len(inputs), -1, 3)
    y = np.asarray(outputs, np.float64).reshape(len(outputs), -1, 3)
    xm, ym = x.mean(axis=1), y.mean(axis=1)
    slope = ((x - xm[:, None]) * (y - ym[:, None])).sum(axis=1) / ((x - xm[:, None]) ** 2).sum(axis=1)
    intercept = ym - slope * xm
    far = np.abs(1.0 - slope.mean(axis=1)) >= min_change
    pivot = intercept / np.where(np.abs(1.0 - slope) > 1e-9, 1.0 - slope, np.nan)
    return np.where(far, pivot.max(axis=1) - pivot.min(axis=1), np.nan)


def colourfulness(images):
    """``‖x − gray(x)‖`` over an image's pixels and channels ``(N,)``."""
    images = np.asarray(images, np.float64)
    return np.sqrt(((images - gray(images)[..., None]) ** 2).sum(axis=(1, 2, 3)))


def saturation_factor(inputs, outputs):
    """The ratio of the colourfulness ``‖x − gray(x)‖``, out / in (``σ`` of a blend with the grayscale)."""
    return colourfulness(outputs) / colourfulness(inputs)


def hue_shift(inputs, outputs, min_saturation=0.3):
    """The median over pixels of the circular difference of HSV hue, out − in, in turns in ``[−½, ½)``.

    Only pixels whose saturation is at least ``min_saturation`` in both images count (hue is ill-defined at grey).
    """
    before, after = rgb_to_hsv(inputs), rgb_to_hsv(outputs)
    diff = (after[..., 0] - before[..., 0] + 0.5) % 1.0 - 0.5
    keep = (before[..., 1] >= min_saturation) & (after[..., 1] >= min_saturation)
    diff = np.sort(np.where(keep, diff, np.inf).reshape(len(diff), -1), axis=1)  # kept pixels first
    count = keep.reshape(len(diff), -1).sum(axis=1)
    rows = np.arange(len(diff))
    median = 0.5 * (diff[rows, np.maximum(count - 1, 0) // 2] + diff[rows, count // 2 - (count == 0)])
    return np.where(count > 0, median, np.nan)


# ---------------------------------------------------------------------------------------------------------------- blur
def _edge_spread(profile):
    """The standard deviation ``(N,)`` of the derivative of blurred step-edge profiles ``(N, L)``."""
    d = np.diff(profile, axis=1)
    position = np.arange(d.shape[1]) + 0.5
    total = d.sum(axis=1, keepdims=True)
    mean = (d * position).sum(axis=1, keepdims=True) / total
    return np.sqrt(np.maximum((d * (position - mean) ** 2).sum(axis=1) / total[:, 0], 0.0))


def blur_sigmas(inputs, outputs):
    """``(σ_x, σ_y)`` ``(N, 2)`` of the blur that produced ``outputs`` from the ``"edges"`` probe: the standard
    deviation of the derivative of the vertical edge (channel 0) across columns, and of the horizontal edge
    (channel 1) across rows, each averaged along the edge first. For a Gaussian blur of standard deviation σ (and
    for PIL's three box passes of variance σ²), the derivative of a blurred step is the blur's kernel, whose
    standard deviation is σ."""
    outputs = np.asarray(outputs, np.float64)
    return np.stack([_edge_spread(outputs[..., 0].mean(axis=1)), _edge_spread(outputs[..., 1].mean(axis=2))], axis=1)


def blur_sigma(inputs, outputs):
    """The blur's σ, ``√((σ_x² + σ_y²)/2)`` of :func:`blur_sigmas`."""
    s = blur_sigmas(inputs, outputs)
    return np.sqrt((s ** 2).mean(axis=1))


def blur_anisotropy(inputs, outputs):
    """``σ_x − σ_y`` of :func:`blur_sigmas` (0 for an isotropic blur)."""
    s = blur_sigmas(inputs, outputs)
    return s[:, 0] - s[:, 1]


# ------------------------------------------------------------------------------------------------------- rates, order
def changed(inputs, outputs):
    """Whether any pixel of an image changed by more than half a grey level."""
    diff = np.abs(np.asarray(outputs, np.float64) - np.asarray(inputs, np.float64))
    return diff.max(axis=(1, 2, 3)) > LEVEL


def flipped(inputs, outputs):
    """Whether an image is its input mirrored left–right (and differs from its input)."""
    mirrored = np.asarray(inputs, np.float64)[:, :, ::-1]
    same = np.abs(np.asarray(outputs, np.float64) - mirrored).max(axis=(1, 2, 3)) <= LEVEL
    return same & changed(inputs, outputs)


def grayscaled(inputs, outputs):
    """Whether an image's three channels are equal (and its input's were not)."""
    outputs = np.asarray(outputs, np.float64)
    equal = (outputs.max(axis=-1) - outputs.min(axis=-1)).max(axis=(1, 2)) <= LEVEL
    return equal & changed(inputs, outputs)


def luma_weights(inputs, outputs):
    """The least-squares weights ``(3,)`` of ``out = w · in``, pooled over the pixels of the grayscaled images."""
    mask = grayscaled(inputs, outputs)
    x = np.asarray(inputs, np.float64)[mask].reshape(-1, 3)
    y = np.asarray(outputs, np.float64)[mask][..., 0].reshape(-1)
    return np.linalg.lstsq(x, y, rcond=None)[0]


def _inverted(inputs, outputs):
    x, y = np.asarray(inputs, np.float64), np.asarray(outputs, np.float64)
    return np.abs(y - (1.0 - x)) <= LEVEL, np.abs(y - x) <= LEVEL


def solarized(inputs, outputs):
    """Whether an image was solarized: it changed, and every pixel is either kept or inverted (``1 − x``)."""
    inverted, kept = _inverted(inputs, outputs)
    return changed(inputs, outputs) & (inverted | kept).all(axis=(1, 2, 3))


def solarization_threshold(inputs, outputs):
    """The smallest input value that was inverted (NaN for images that were not solarized)."""
    x = np.asarray(inputs, np.float64)
    inverted, kept = _inverted(inputs, outputs)
    inverted &= ~kept  # pixels at ½ are their own inverse
    lowest = np.where(inverted, x, np.inf).min(axis=(1, 2, 3))
    return np.where(solarized(inputs, outputs), lowest, np.nan)


def contrast_before_brightness(inputs, outputs):
    """On the ``"ramp"`` probe under brightness and contrast jitter: whether the output reaches 1 while its
    minimum stays above 0, a sign that contrast came first.

    Brightness ``β`` then contrast ``γ`` gives ``γ·clip(βx) + (1 − γ)·m'``: with ``γ < 1`` its maximum
    ``γ·min(β, 1) + (1 − γ)·m'`` is below 1 (``m' < 1``), with ``γ ≥ 1`` its minimum clips to 0. Contrast first
    gives ``clip(β·(γx + (1 − γ)·m))``, which reaches 1 with a minimum ``β(1 − γ)m > 0`` whenever ``γ < 1`` and
    ``β(1 + γ)/2 ≥ 1`` (the ramp's mean ``m`` is ½). Without clamping the two adjustments commute.
    """
    y = np.asarray(outputs, np.float64)
    return (y.max(axis=(1, 2, 3)) >= 1.0 - LEVEL) & (y.min(axis=(1, 2, 3)) > LEVEL)


MEASURES = {f.__name__: f for f in (area_fraction, aspect_ratio, brightness_factor, contrast_factor,
                                    contrast_pivot_spread, saturation_factor, hue_shift, blur_sigma, blur_anisotropy,
                                    solarization_threshold)}
RATES = {f.__name__: f for f in (changed, flipped, grayscaled, solarized, contrast_before_brightness)}


# ------------------------------------------------------------------------------------------------ quantiles and laws
def quantiles(values, levels=QUANTILES):
    """The sample quantiles of ``values`` (NaNs dropped) at ``levels``."""
    values = np.asarray(values, np.float64)
    return [float(q) for q in np.quantile(values[~np.isnan(values)], levels)]


def quantile_errors(values, levels=QUANTILES):
    """Distribution-free standard errors of the sample quantiles: half the distance between the sample quantiles
    at ``p ± √(p(1 − p)/n)`` (the rank of the ``p`` quantile has binomial standard deviation ``√(n p (1 − p))``)."""
    values = np.asarray(values, np.float64)
    values = values[~np.isnan(values)]
    n = len(values)
    errors = []
    for p in levels:
        delta = math.sqrt(p * (1 - p) / n)
        low, high = np.quantile(values, [max(0.0, p - delta), min(1.0, p + delta)])
        errors.append(float(high - low) / 2.0)
    return errors


def crop_law(scale, ratio, height, width, n=1_000_000, seed=0):
    """Samples ``(area fraction, aspect ratio)`` of the crop boxes of torchvision's
    ``RandomResizedCrop.get_params`` law, as ``spec/protocols.md`` §1 states it (numpy, independent of either
    implementation): up to 10 attempts of an area fraction ``~ U(scale)`` and a log-uniform aspect ratio on
    ``ratio``, sides ``round(√(s·A·r))`` and ``round(√(s·A/r))``, the first box that fits kept; else the whole
    image with its aspect ratio clamped to ``ratio``."""
    rng = np.random.default_rng(seed)
    area = height * width
    fraction = rng.uniform(scale[0], scale[1], (n, 10))
    aspect = np.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1]), (n, 10)))
    w = np.round(np.sqrt(fraction * area * aspect))
    h = np.round(np.sqrt(fraction * area / aspect))
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = fits.argmax(axis=1)
    rows = np.arange(n)
    w, h = w[rows, first], h[rows, first]
    in_ratio = width / height
    fallback_w = width if in_ratio <= ratio[1] else round(height * ratio[1])
    fallback_h = height if in_ratio >= ratio[0] else round(width / ratio[0])
    any_fits = fits.any(axis=1)
    w = np.where(any_fits, w, fallback_w)
    h = np.where(any_fits, h, fallback_h)
    return w * h / area, w / h


@functools.lru_cache(maxsize=None)
def _crop_law_quantiles(scale, ratio):
    """The quantiles of :func:`crop_law` on the ``"coordinates"`` probe's side, per measure (computed once)."""
    area, aspect = crop_law(scale, ratio, CROP_INPUT, CROP_INPUT)
    return {"area_fraction": tuple(quantiles(area)), "aspect_ratio": tuple(quantiles(aspect))}


def uniform_quantiles(low, high, levels=QUANTILES):
    """The quantiles of ``U(low, high)``."""
    return [low + (high - low) * p for p in levels]


def order_rate(brightness, contrast):
    """The probability that :func:`contrast_before_brightness` holds under ``ColorJitter(brightness, contrast)``
    with the four adjustments in a uniformly random order: ``½ · P(γ < 1, β ≥ 2/(1 + γ))``, for
    ``β ~ U(1 − b, 1 + b)``, ``γ ~ U(1 − c, 1 + c)`` (``b, c ≤ 1``), in closed form."""
    b0, b1 = 1.0 - brightness, 1.0 + brightness
    c0 = 1.0 - contrast
    # P(β ≥ 2/(1+γ)) = (b1 − 2/(1+γ))/(b1 − b0) where 2/(1+γ) lies inside [b0, b1], integrated over γ in [c0, 1)
    lo = max(c0, 2.0 / b1 - 1.0)  # below this γ, 2/(1+γ) exceeds b1 and the probability is 0
    if lo >= 1.0:
        return 0.0
    integral = b1 * (1.0 - lo) - 2.0 * math.log(2.0 / (1.0 + lo))
    return 0.5 * integral / ((b1 - b0) * (2.0 * contrast))


def law_quantiles(law, measure):
    """The analytic quantiles of ``measure`` under a setting's ``law`` (:data:`SETTINGS`), or ``None``."""
    if measure in ("blur_anisotropy", "contrast_pivot_spread"):
        return [0.0] * len(QUANTILES)
    if law[0] == "uniform":
        return uniform_quantiles(law[1], law[2])
    if law[0] == "crop":
        return list(_crop_law_quantiles(tuple(law[1]), tuple(law[2]))[measure])
    if measure == "solarization_threshold":
        return [128 / 255] * len(QUANTILES)  # PIL's solarize(threshold=128): values >= 128 of 255 inverted
    return None


def law_rate(law):
    """The analytic rate of a setting's flag (:data:`SETTINGS`)."""
    if law[0] == "order":
        return order_rate(law[1], law[2])
    return law[1]


# ------------------------------------------------------------------------------------------- measurement resolution
def nominal_grid(setting):
    """The known parameters at which an implementation's deterministic transform is applied, one per probe image,
    to find how closely the measurements recover them (the resolution of a setting's measures on that
    implementation): ``GRID_POINTS − 2`` factors or hue shifts evenly spread over the law's range and two within
    ``10⁻⁴`` of the identity, or, for a crop,
    ``GRID_POINTS`` boxes ``(top, left, height, width)`` (an array ``(GRID_POINTS, 4)``) of areas evenly spread
    over the scale range, log-evenly spread aspect ratios and seeded positions. ``None`` for the other settings.
    """
    law = setting["law"]
    if setting["transform"] == "ColorJitter" and law[0] == "uniform":
        # the ends of the grid sit next to the identity (factor 1, hue shift 0), where 8-bit truncation moves
        # PIL's measured factors most
        identity = 0.0 if law[1] < 0 else 1.0
        return np.r_[np.linspace(law[1], law[2], GRID_POINTS - 2), identity - 1e-4, identity + 1e-4]
    if law[0] != "crop":
        return None
    rng = np.random.default_rng(PROBE_SEED)
    area = CROP_INPUT * CROP_INPUT
    fraction = np.linspace(law[1][0], law[1][1], GRID_POINTS)
    aspect = np.exp(rng.permutation(np.linspace(math.log(law[2][0]), math.log(law[2][1]), GRID_POINTS)))
    w = np.minimum(np.round(np.sqrt(fraction * area * aspect)), CROP_INPUT)
    h = np.minimum(np.round(np.sqrt(fraction * area / aspect)), CROP_INPUT)
    top = np.floor(rng.uniform(0.0, 1.0, GRID_POINTS) * (CROP_INPUT - h + 1))
    left = np.floor(rng.uniform(0.0, 1.0, GRID_POINTS) * (CROP_INPUT - w + 1))
    return np.stack([top, left, h, w], axis=1)


def nominal_values(setting, measure, grid):
    """What ``measure`` should read at each point of :func:`nominal_grid` (``(GRID_POINTS,)``)."""
    if measure == "area_fraction":
        return grid[:, 2] * grid[:, 3] / (CROP_INPUT * CROP_INPUT)
    if measure == "aspect_ratio":
        return grid[:, 3] / grid[:, 2]
    if measure == "contrast_pivot_spread":
        return np.zeros(len(grid))
    return np.asarray(grid, np.float64)


def resolution(setting, measure, inputs, outputs):
    """The largest ``|measured − nominal|`` over the grid points (NaN measurements, e.g. a pivot near ``γ = 1``,
    skipped)."""
    grid = nominal_grid(setting)
    error = np.abs(MEASURES[measure](inputs, outputs) - nominal_values(setting, measure, grid))
    return float(np.nanmax(error))
