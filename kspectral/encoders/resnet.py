"""ResNet-18/34/50 backbones (He, Zhang, Ren & Sun 2016, arXiv:1512.03385) with the CIFAR or the ImageNet stem.

The architecture is torchvision's (ResNet-50 is "v1.5": the stride of a downsampling bottleneck sits on its 3×3
convolution, not on its first 1×1 as in the paper and in ``keras.applications.ResNet50``), without the final
classifier: the representation is the global average of the last stage, 512-D for ResNet-18/34 and 2048-D for
ResNet-50. SSL papers on small images (SimCLR's CIFAR-10 experiments, Chen et al. 2020, arXiv:2002.05709, §B.9;
solo-learn; Lightly) replace the ImageNet stem (7×7 stride-2 convolution and 3×3 stride-2 max pooling) with a 3×3
stride-1 convolution and no pooling: the CIFAR stem. ResNet-18 with it has 11,168,832 trainable parameters.
"""

from __future__ import annotations

import keras

from kspectral import catalog
from kspectral._validation import check_image_shape, parse_widths
from kspectral.errors import InputError

#: Block type and number of blocks per stage for each depth (He et al. 2016, Table 1).
RESNET_LAYOUTS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
}

STEMS = catalog.STEMS

#: Largest image side (pixels) for which ``stem="auto"`` picks the CIFAR stem.
CIFAR_STEM_MAX_SIZE = 64

_EXPANSION = {"basic": 1, "bottleneck": 4}


def _check_image_shape(input_shape):
    shape = check_image_shape(input_shape, "a ResNet")
    for i, size in enumerate(shape):
        if size is None and i < 2:
            continue
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise InputError(f"input_shape must hold positive integers (height and width may be None), got {shape}")
    return shape


def choose_stem(input_shape, stem="auto"):
    """The stem a ResNet uses for images of ``input_shape``: ``"cifar"`` or ``"imagenet"``.

    ``"auto"`` picks ``"cifar"`` when both image sides are at most 64 pixels (CIFAR, STL-10 at 64, Tiny-ImageNet,
    MNIST) and ``"imagenet"`` otherwise (STL-10 at 96, Imagenette, ImageNet).

    Example:
        >>> choose_stem((32, 32, 3)), choose_stem((96, 96, 3)), choose_stem((96, 96, 3), "cifar")
        ('cifar', 'imagenet', 'cifar')
    """
    if stem not in STEMS:
        raise InputError(f"unknown stem {stem!r}; choose one of: {', '.join(STEMS)}")
    if stem != "auto":
        return stem
    height, width = _check_image_shape(input_shape)[:2]
    if height is None or width is None:
        raise InputError(
            f"stem='auto' needs the image size, but input_shape={tuple(input_shape)} leaves it open; "
            "pass stem='cifar' or stem='imagenet'"
        )
    return "cifar" if max(height, width) <= CIFAR_STEM_MAX_SIZE else "imagenet"


class _Builder:
    """Layer factory shared by the blocks of one network (initialisers and BatchNorm settings)."""

    def __init__(self, synchronized, zero_init_residual):
        self.synchronized = synchronized
        self.zero_init_residual = zero_init_residual
        # torchvision's kaiming_normal_(mode="fan_out", nonlinearity="relu").
        self.kernel_initializer = keras.initializers.VarianceScaling(
            scale=2.0, mode="fan_out", distribution="untruncated_normal"
        )

    def conv(self, x, filters, kernel_size, strides, name):
        if strides > 1 and kernel_size > 1:
            # Symmetric padding as in torchvision (Keras' "same" pads strided convolutions on one side only).
            x = keras.layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad")(x)
            padding = "valid"
        else:
            padding = "same"
        return keras.layers.Conv2D(
            filters,
            kernel_size,
            strides=strides,
            padding=padding,
            use_bias=False,
            kernel_initializer=self.kernel_initializer,
            name=name,
        )(x)

    def bn(self, x, name, last_in_branch=False):
        zero = last_in_branch and self.zero_init_residual
        return keras.layers.BatchNormalization(
            momentum=0.9,  # PyTorch's momentum=0.1 counts the other way round
            epsilon=1e-5,
            gamma_initializer="zeros" if zero else "ones",
            synchronized=self.synchronized,
            name=name,
        )(x)

    def shortcut(self, x, filters, strides, name):
        if strides == 1 and x.shape[-1] == filters:
            return x
        x = self.conv(x, filters, 1, strides, name=f"{name}_downsample_conv")
        return self.bn(x, name=f"{name}_downsample_bn")

    def basic_block(self, x, width, strides, name):
        shortcut = self.shortcut(x, width, strides, name)
        y = self.conv(x, width, 3, strides, name=f"{name}_conv1")
        y = keras.layers.ReLU(name=f"{name}_relu1")(self.bn(y, name=f"{name}_bn1"))
        y = self.conv(y, width, 3, 1, name=f"{name}_conv2")
        y = self.bn(y, name=f"{name}_bn2", last_in_branch=True)
        y = keras.layers.Add(name=f"{name}_add")([y, shortcut])
        return keras.layers.ReLU(name=f"{name}_out")(y)

    def bottleneck_block(self, x, width, strides, name):
        shortcut = self.shortcut(x, width * _EXPANSION["bottleneck"], strides, name)
        y = self.conv(x, width, 1, 1, name=f"{name}_conv1")
        y = keras.layers.ReLU(name=f"{name}_relu1")(self.bn(y, name=f"{name}_bn1"))
        y = self.conv(y, width, 3, strides, name=f"{name}_conv2")
        y = keras.layers.ReLU(name=f"{name}_relu2")(self.bn(y, name=f"{name}_bn2"))
        y = self.conv(y, width * _EXPANSION["bottleneck"], 1, 1, name=f"{name}_conv3")
        y = self.bn(y, name=f"{name}_bn3", last_in_branch=True)
        y = keras.layers.Add(name=f"{name}_add")([y, shortcut])
        return keras.layers.ReLU(name=f"{name}_out")(y)


def resnet_encoder(
    depth,
    input_shape,
    *,
    stem="auto",
    widths=None,
    zero_init_residual=False,
    synchronized=False,
    name=None,
):
    """A ResNet backbone as a functional ``keras.Model`` mapping images to pooled representations.

    Args:
        depth: 18, 34 or 50.
        input_shape: ``(height, width, channels)`` of one image; any number of channels (``1`` for grayscale).
        stem: ``"cifar"`` (3×3 stride-1 convolution, "same" padding, no max pooling), ``"cifar_pad2"`` (the same
            convolution with padding 2, so 32×32 images give 34×34 maps: solo-learn's CIFAR stem,
            ``nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=2)`` in ``solo/methods/base.py``), ``"imagenet"``
            (7×7 stride-2 convolution, then 3×3 stride-2 max pooling) or ``"auto"`` (see :func:`choose_stem`).
        widths: channels of the four stages, ``"64-128-256-512"`` by default (a bottleneck stage outputs four
            times its width).
        zero_init_residual: start the scale (gamma) of the last BatchNorm of every residual branch at 0, so each
            block starts as the identity (Goyal et al. 2017, arXiv:1706.02677). torchvision's default is
            off; the official VICReg and Barlow Twins code turn it on (``zero_init_residual=True``).
        synchronized: synchronise BatchNorm statistics across replicas under a distribution strategy
            (``keras.layers.BatchNormalization(synchronized=True)``, TensorFlow backend), as the official VICReg
            and Barlow Twins code do; :func:`~kspectral.encoders.build_encoder` (``--encoder resnet18``) turns it on.
        name: model name (default ``"resnet{depth}"``).

    Returns:
        A ``keras.Model`` from ``(batch, *input_shape)`` images to ``(batch, d)`` representations, ``d = 512``
        for ResNet-18/34 and ``2048`` for ResNet-50 with the default widths.

    Example:
        >>> import numpy as np
        >>> model = resnet_encoder(18, (32, 32, 3))
        >>> model.output_shape, sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        ((None, 512), 11168832)
    """
    if depth not in RESNET_LAYOUTS:
        raise InputError(f"unsupported ResNet depth {depth!r}; choose one of: {', '.join(map(str, RESNET_LAYOUTS))}")
    shape = _check_image_shape(input_shape)
    stem = choose_stem(shape, stem)
    widths = parse_widths("64-128-256-512" if widths is None else widths, what="ResNet stage")
    if len(widths) != 4:
        raise InputError(f"a ResNet has 4 stages, so widths needs 4 values (e.g. '64-128-256-512'), got {widths}")
    if not isinstance(zero_init_residual, bool) or not isinstance(synchronized, bool):
        raise TypeError("zero_init_residual and synchronized must be True or False")
    block_type, blocks = RESNET_LAYOUTS[depth]
    builder = _Builder(synchronized=synchronized, zero_init_residual=zero_init_residual)
    block = builder.basic_block if block_type == "basic" else builder.bottleneck_block

    inputs = keras.Input(shape, name="images")
    if stem == "cifar":
        x = builder.conv(inputs, widths[0], 3, 1, name="conv1")
        x = keras.layers.ReLU(name="relu1")(builder.bn(x, name="bn1"))
    elif stem == "cifar_pad2":
        x = keras.layers.ZeroPadding2D(2, name="conv1_pad")(inputs)
        x = keras.layers.Conv2D(widths[0], 3, padding="valid", use_bias=False,
                                kernel_initializer=builder.kernel_initializer, name="conv1")(x)
        x = keras.layers.ReLU(name="relu1")(builder.bn(x, name="bn1"))
    else:
        x = builder.conv(inputs, widths[0], 7, 2, name="conv1")
        x = keras.layers.ReLU(name="relu1")(builder.bn(x, name="bn1"))
        x = keras.layers.ZeroPadding2D(1, name="maxpool_pad")(x)  # after a ReLU, zero padding equals -inf padding
        x = keras.layers.MaxPooling2D(3, strides=2, name="maxpool")(x)
    for stage, (width, n_blocks) in enumerate(zip(widths, blocks), start=1):
        for b in range(n_blocks):
            strides = 2 if (b == 0 and stage > 1) else 1
            x = block(x, width, strides, name=f"layer{stage}_{b}")
    x = keras.layers.GlobalAveragePooling2D(name="avgpool")(x)
    return keras.Model(inputs, x, name=name or f"resnet{depth}")


def resnet18(input_shape, **kwargs):
    """ResNet-18 backbone (512-D representations); keyword arguments as in :func:`resnet_encoder`."""
    return resnet_encoder(18, input_shape, **kwargs)


def resnet34(input_shape, **kwargs):
    """ResNet-34 backbone (512-D representations); keyword arguments as in :func:`resnet_encoder`."""
    return resnet_encoder(34, input_shape, **kwargs)


def resnet50(input_shape, **kwargs):
    """ResNet-50 (v1.5) backbone (2048-D representations); keyword arguments as in :func:`resnet_encoder`."""
    return resnet_encoder(50, input_shape, **kwargs)


__all__ = [
    "CIFAR_STEM_MAX_SIZE",
    "RESNET_LAYOUTS",
    "STEMS",
    "choose_stem",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet_encoder",
]
