"""A Gaussian blur with one isotropic σ drawn per image: PIL's ``GaussianBlur(radius=σ)`` and torchvision's law.

:class:`GaussianBlur` blurs each image of a batch with its own ``σ ~ U(low, high)``, the same σ along both axes,
as solo-learn, Lightly and the official VICReg code do (``PIL.ImageFilter.GaussianBlur(radius=σ)``, where PIL's
radius is the standard deviation), or with torchvision's ``GaussianBlur(kernel_size, sigma)`` taps (SimCLR and
BYOL: a kernel of 10 % of the image side). Keras' ``RandomGaussianBlur`` draws one anisotropic ``(σ_x, σ_y)`` per
batch instead, and sizes its kernel from the image, which caps σ at small sizes.

PIL blurs with three passes of an "extended" box filter per axis (Gwosdek, Grewenig, Bruhn & Weickert 2011, "Theoretical
foundations of Gaussian convolution by extended box filtering"): a box of fractional radius ``l + α`` whose
variance, after three passes, is exactly σ² (``ImageFilter.GaussianBlur`` → ``_gaussian_blur_radius`` and
``ImagingBoxBlur`` in ``libImaging/BoxBlur.c``), each pass repeating the edge pixels. The default mode here does
the same passes in floating point; unlike a sampled Gaussian, whose variance falls short of σ² for σ < 1 (a
sampled Gaussian of σ = 0.5 has standard deviation 0.46, of σ = 0.2 almost none), it blurs small σ as PIL does.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from kspectral._validation import check_number, check_positive_int
from kspectral.errors import InputError

#: PIL's box passes per axis (``ImageFilter.GaussianBlur``)
PASSES = 3
#: border handling: ``"edge"`` repeats the border pixel (PIL's box blurs), ``"reflect"`` mirrors (torchvision)
BORDERS = ("edge", "reflect")


def _border_index(size, radius, border):
    """Source indices ``(size + 2·radius,)`` of a 1-D signal padded by ``radius`` on each side."""
    index = ops.arange(-radius, size + radius)
    if border == "edge":
        return ops.clip(index, 0, size - 1)
    period = 2 * (size - 1) if size > 1 else 1
    index = ops.abs(index) % period  # reflect without repeating the border pixel, as numpy's "reflect"
    return ops.where(index >= size, period - index, index)


def box_radius(sigma, passes=PASSES):
    """PIL's fractional box radius ``l + α`` whose ``passes`` passes have variance σ² (``_gaussian_blur_radius``).

    With ``s² = σ² / passes``, ``L = √(12 s² + 1)``, ``l = ⌊(L − 1) / 2⌋`` and
    ``α = (2l + 1)(l(l + 1) − 3 s²) / (6 (s² − (l + 1)²))``. Works on floats and on tensors.
    """
    s2 = sigma * sigma / passes
    length = (12.0 * s2 + 1.0) ** 0.5
    whole = ops.floor((length - 1.0) / 2.0) if not isinstance(sigma, float) else float(math.floor((length - 1) / 2))
    alpha = (2.0 * whole + 1.0) * (whole * (whole + 1.0) - 3.0 * s2) / (6.0 * (s2 - (whole + 1.0) ** 2))
    return whole + alpha


def box_kernels(sigma, size):
    """The 1-D extended-box kernels ``(B, 2·size + 1)`` of PIL's blur for standard deviations ``sigma`` ``(B,)``.

    A box of radius ``r = l + α``: weight ``1 / (2r + 1)`` on the ``2l + 1`` central taps and the rest,
    ``(1 − (2l + 1) / (2r + 1)) / 2``, on each of the two taps beyond (``ImagingBoxBlur``'s ``ww`` and ``fw``).
    ``size`` must be at least ``l + 1`` for every σ.
    """
    sigma = ops.cast(sigma, "float32")
    radius = box_radius(sigma)
    whole = ops.floor(radius)[:, None]
    inner = 1.0 / (2.0 * radius + 1.0)[:, None]
    outer = (1.0 - (2.0 * whole + 1.0) * inner) / 2.0
    offsets = ops.abs(ops.cast(ops.arange(-size, size + 1), "float32"))[None, :]
    return ops.where(offsets <= whole, inner, ops.where(offsets <= whole + 1.0, outer, 0.0))


def _blur_depthwise(images, weights, passes, border):
    """``passes`` passes per axis (the rows' first) of per-image kernels ``weights`` ``(B, K)``, as one depthwise
    convolution per pass: the batch goes into the channels, ``(1, H, W, B·C)``, so that every image has its own
    kernel. Needs the static height, width and channels."""
    height, width, channels = (int(d) for d in images.shape[1:])
    taps = int(weights.shape[1])
    radius = (taps - 1) // 2
    stacked = ops.reshape(ops.transpose(images, (1, 2, 0, 3)), (1, height, width, -1))
    per_channel = ops.transpose(ops.repeat(weights, channels, axis=0))  # (K, B·C), image-major as the channels
    for axis, size in ((2, width), (1, height)):
        kernel = per_channel[None, :, :, None] if axis == 2 else per_channel[:, None, :, None]
        for _ in range(passes):
            padded = ops.take(stacked, _border_index(size, radius, border), axis=axis)
            stacked = ops.depthwise_conv(padded, kernel, padding="valid")
    return ops.transpose(ops.reshape(stacked, (height, width, -1, channels)), (2, 0, 1, 3))


def _blur_axis(images, weights, axis, border):
    """Convolve ``images`` along ``axis`` (1: rows, 2: columns) with per-image kernels ``weights`` ``(B, 2r + 1)``."""
    radius = (int(weights.shape[1]) - 1) // 2
    size = ops.shape(images)[axis]
    padded = ops.take(images, _border_index(size, radius, border), axis=axis)
    out = None
    for k in range(2 * radius + 1):
        tap = padded[:, k : k + size] if axis == 1 else padded[:, :, k : k + size]
        term = tap * ops.reshape(weights[:, k], (-1, 1, 1, 1))
        out = term if out is None else out + term
    return out


@keras.saving.register_keras_serializable(package="kspectral")
class GaussianBlur(keras.layers.Layer):
    """Blur each image with an isotropic Gaussian of its own standard deviation ``σ ~ U(sigma)``.

    By default the blur is PIL's ``GaussianBlur(radius=σ)``: per axis, three passes of the extended box of
    :func:`box_kernels`, whose variance is exactly σ² (so the kernel follows σ, not a fraction of the image side: at
    32 px σ = 2 blurs as σ = 2), each pass repeating the border pixel beyond the image, as PIL's box blurs do.
    ``kernel_size=K`` gives torchvision's ``GaussianBlur(K, sigma)`` instead: one pass of the sampled Gaussian
    ``exp(−t² / 2σ²)`` on ``K`` taps (odd), normalised, with reflected borders (SimCLR and BYOL blur with ``K`` =
    10 % of the side, 23 at 224 px).

    Args:
        sigma: range ``(low, high)`` of σ in pixels, ``0 < low ≤ high`` (``(0.1, 2.0)`` in SimCLR, BYOL, VICReg,
            solo-learn and Lightly).
        kernel_size: ``None`` (support from σ) or an odd number of taps ``≥ 3``.
        border: ``"edge"`` or ``"reflect"``; default: ``"edge"`` without ``kernel_size``, ``"reflect"`` with it.
        seed: seed of the random draws.

    Input shape:
        ``(B, H, W, C)``, float (or one image ``(H, W, C)``).

    Output shape:
        Same as input.

    Example:
        >>> import numpy as np
        >>> blur = GaussianBlur((0.1, 2.0), seed=0)
        >>> blur(np.random.rand(4, 32, 32, 3).astype("float32")).shape
        TensorShape([4, 32, 32, 3])
    """

    def __init__(self, sigma=(0.1, 2.0), kernel_size=None, border=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(sigma, (tuple, list)) or len(sigma) != 2:
            raise InputError(f"sigma must be a pair (low, high) of standard deviations in pixels, got {sigma!r}")
        low = check_number(sigma[0], "sigma[0]", minimum=0.0, strict=True)
        high = check_number(sigma[1], "sigma[1]", minimum=0.0, strict=True)
        if low > high:
            raise InputError(f"sigma must satisfy low <= high, got {sigma!r}")
        self.sigma = (low, high)
        if kernel_size is not None:
            kernel_size = check_positive_int(kernel_size, "kernel_size", minimum=3)
            if kernel_size % 2 == 0:
                raise InputError(f"kernel_size must be odd (a centred kernel), got {kernel_size}")
        self.kernel_size = kernel_size
        border = border if border is not None else ("edge" if kernel_size is None else "reflect")
        if border not in BORDERS:
            raise InputError(f"unknown border {border!r}; choose one of: {', '.join(BORDERS)}")
        self.border = border
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    @property
    def radius(self):
        """Half the width of one pass's kernel: the taps on each side of the centre (PIL's mode: ``l + 1`` of the
        largest σ's box; the three passes reach three times as far)."""
        if self.kernel_size is not None:
            return self.kernel_size // 2
        return int(math.floor(box_radius(float(self.sigma[1])))) + 1

    def kernels(self, sigma):
        """The normalised sampled-Gaussian kernels ``(B, kernel_size)`` of ``sigma`` ``(B,)`` (torchvision's
        ``_get_gaussian_kernel1d``), for the ``kernel_size`` mode."""
        offsets = ops.cast(ops.arange(-self.radius, self.radius + 1), "float32")[None, :]
        sigma = ops.cast(sigma, "float32")[:, None]
        weights = ops.exp(-0.5 * ops.square(offsets / sigma))
        return weights / ops.sum(weights, axis=1, keepdims=True)

    def call(self, inputs, training=True):
        images = ops.cast(ops.convert_to_tensor(inputs), self.compute_dtype)
        single = len(images.shape) == 3
        if single:
            images = ops.expand_dims(images, 0)
        if not training:
            return images[0] if single else images
        if self.border == "reflect":
            for axis in (1, 2):
                size = images.shape[axis]
                if size is not None and size <= self.radius:
                    raise InputError(f"a reflected blur of {2 * self.radius + 1} taps needs images larger than "
                                     f"{self.radius} px, got shape {tuple(images.shape)}; use border='edge'")
        sigma = keras.random.uniform((ops.shape(images)[0],), self.sigma[0], self.sigma[1], seed=self.seed_generator)
        if self.kernel_size is not None:
            weights, passes = ops.cast(self.kernels(sigma), images.dtype), 1
        else:
            weights, passes = ops.cast(box_kernels(sigma, self.radius), images.dtype), PASSES
        if passes * int(weights.shape[1]) > 8 and all(d is not None for d in images.shape[1:]):
            out = _blur_depthwise(images, weights, passes, self.border)  # measured faster from about 9 taps on
        else:  # short kernels, or sizes known only when the graph runs: shifted sums
            out = images
            for axis in (2, 1):  # PIL: the rows' passes, then the columns'
                for _ in range(passes):
                    out = _blur_axis(out, weights, axis, self.border)
        return out[0] if single else out

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(sigma=list(self.sigma), kernel_size=self.kernel_size, border=self.border, seed=self.seed)
        return config
