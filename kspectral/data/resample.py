"""Resizing boxes of images as PIL resizes them: a separable filter whose support widens when it shrinks.

``torchvision.transforms.RandomResizedCrop(..., interpolation=BICUBIC)`` on a PIL image (solo-learn's pipelines)
crops an integer box and resizes it with ``Image.resize(size, BICUBIC)``. PIL computes each output pixel ``k`` of an
axis as a weighted sum of the box's pixels ``i``: with ``scale = box / out`` and ``fs = max(scale, 1)``, the weight of
``i`` is ``filter((i + ½ − (k + ½)·scale) / fs)``, for the pixels inside the box only, normalised to sum to 1
(``ImagingResample`` in ``libImaging/Resample.c``). The filter is the cubic convolution kernel with ``a = −½``
(Keys 1981); ``fs > 1`` (shrinking) widens it, which antialiases. The weights form a matrix per image and axis, so a
batch of boxes of different sizes is two batched matrix products, and compiles with XLA. As PIL does, the width is
resampled first, then the height, and each pass is clipped to the value range (the cubic kernel overshoots);
unlike PIL on 8-bit images, nothing is rounded to integers.
"""

from __future__ import annotations

from keras import ops

#: PIL's bicubic kernel parameter
CUBIC_A = -0.5


def cubic(t, a=CUBIC_A):
    """The cubic convolution kernel (Keys 1981) at ``t``; zero for ``|t| ≥ 2``."""
    t = ops.abs(t)
    near = ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0
    far = (((t - 5.0) * t + 8.0) * t - 4.0) * a
    return ops.where(t < 1.0, near, ops.where(t < 2.0, far, 0.0))


def resize_weights(start, length, out_size, in_size):
    """Resampling matrices ``(B, out_size, in_size)`` that map each image's box ``[start, start + length)`` of one
    axis to ``out_size`` pixels, with PIL's bicubic weights (see the module's docstring).

    Args:
        start, length: float tensors ``(B,)`` of integer-valued box offsets and sides (``length ≥ 1``).
        out_size: the output side (int).
        in_size: the input side (int or scalar tensor).
    """
    scale = length / ops.cast(out_size, "float32")
    filter_scale = ops.maximum(scale, 1.0)
    k = ops.arange(out_size, dtype="float32")[None, :, None]
    i = ops.cast(ops.arange(in_size), "float32")[None, None, :] - start[:, None, None]  # box coordinates
    centre = (k + 0.5) * scale[:, None, None]
    weights = cubic((i + 0.5 - centre) / filter_scale[:, None, None])
    inside = ops.logical_and(i >= 0.0, i < length[:, None, None])
    weights = ops.where(inside, weights, 0.0)
    total = ops.sum(weights, axis=2, keepdims=True)
    return weights / ops.where(ops.equal(total, 0.0), 1.0, total)


def resize_boxes(images, top, left, height, width, out_height, out_width, value_range=(0.0, 1.0)):
    """The boxes ``(top, left, height, width)`` (float tensors ``(B,)``) of ``images`` ``(B, H, W, C)``, resized
    to ``(out_height, out_width)`` with PIL's bicubic resampling, clipped to ``value_range``."""
    shape = ops.shape(images)
    rows = ops.cast(resize_weights(top, height, out_height, shape[1]), images.dtype)
    cols = ops.cast(resize_weights(left, width, out_width, shape[2]), images.dtype)
    low, high = value_range
    # PIL resamples the width first, then the height, and clips (8-bit images: rounds) after each pass
    out = ops.clip(ops.einsum("blj,bijc->bilc", cols, images), low, high)
    return ops.clip(ops.einsum("bki,bilc->bklc", rows, out), low, high)
