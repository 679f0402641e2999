"""``tf.data`` image plumbing shared by the TFDS and folder sources: fit to a size, load into memory, stream."""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf


def fit_image(image, size, channels):
    """A decoded image (uint8 or float, ``(H, W, C_in)``) as float32 ``(h, w, channels)`` in ``[0, 1]``.

    With ``size = (h, w)``, the centre crop of aspect ratio ``w/h`` is resized with antialiasing (bilinear), so
    images of any shape come out undistorted; ``size=None`` keeps the image's own size.
    """
    image = tf.image.convert_image_dtype(image, tf.float32)
    have = image.shape[-1]
    if have != channels:
        if channels == 1:
            image = tf.image.rgb_to_grayscale(image[..., :3])
        elif have == 1:
            image = tf.image.grayscale_to_rgb(image)
        else:
            image = image[..., :channels]
    if size is None:
        return image
    height, width = size
    if image.shape[0] == height and image.shape[1] == width:  # static shape already right
        return image
    shape = tf.shape(image)
    h, w = shape[0], shape[1]
    crop_h = tf.minimum(h, tf.cast(tf.round(tf.cast(w, tf.float32) * height / width), tf.int32))
    crop_w = tf.minimum(w, tf.cast(tf.round(tf.cast(h, tf.float32) * width / height), tf.int32))
    crop_h, crop_w = tf.maximum(crop_h, 1), tf.maximum(crop_w, 1)
    top, left = (h - crop_h) // 2, (w - crop_w) // 2
    image = image[top:top + crop_h, left:left + crop_w]
    image = tf.image.resize(image, (height, width), method="bilinear", antialias=True)
    return tf.clip_by_value(tf.ensure_shape(image, (height, width, channels)), 0.0, 1.0)


def to_uint8(image):
    """Float image in ``[0, 1]`` → uint8 (rounded): the compact form a cache holds."""
    return tf.cast(tf.round(image * 255.0), tf.uint8)


def to_float(image):
    """uint8 → float32 in ``[0, 1]``."""
    return tf.cast(image, tf.float32) / 255.0


def to_memory(ds, count, sample_shape, labelled, batch_size=256):
    """Read ``ds`` (elements ``image`` or ``(image, label)``, images already fitted) into numpy arrays.

    Returns:
        ``(x, y)``: float32 ``(n, *sample_shape)`` and int64 ``(n,)`` (``y`` is ``None`` when not ``labelled``),
        ``n ≤ count``.
    """
    x = np.empty((count, *sample_shape), np.float32)
    y = np.empty(count, np.int64) if labelled else None
    n = 0
    for batch in ds.take(count).batch(batch_size).prefetch(2).as_numpy_iterator():
        images = batch[0] if labelled else batch
        k = len(images)
        x[n:n + k] = images
        if labelled:
            y[n:n + k] = batch[1]
        n += k
    return (x[:n], y[:n] if labelled else None)


def mixed_stream(parts, counts, seed, cache_budget, image_bytes):
    """One pre-training stream from several streams of uint8 images, mixed at random in proportion to their sizes.

    Args:
        parts: ``tf.data.Dataset`` s of fitted uint8 images.
        counts: their sizes.
        seed: seed of the mixing.
        cache_budget: each part is cached in memory when all of them together take at most this many bytes.
        image_bytes: bytes of one uint8 image.

    Returns:
        ``tf.data.Dataset`` of float32 images in ``[0, 1]``.
    """
    cache = image_bytes * sum(counts) <= cache_budget
    parts = [part.cache() if cache else part for part in parts]
    if len(parts) == 1:
        stream = parts[0]
    else:
        total = sum(counts)
        stream = tf.data.Dataset.sample_from_datasets(parts, weights=[c / total for c in counts], seed=seed,
                                                      stop_on_empty_dataset=False, rerandomize_each_iteration=True)
    stream = stream.map(to_float, num_parallel_calls=tf.data.AUTOTUNE)
    return stream.apply(tf.data.experimental.assert_cardinality(sum(counts)))


def image_bytes(sample_shape):
    """Bytes of one uint8 image."""
    return math.prod(sample_shape)
