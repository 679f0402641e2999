"""Folders of images: class subfolders give labels, a flat folder is unlabelled.

Layouts (hidden files and folders, names starting with ``.``, are skipped; image files are ``.png``, ``.jpg``,
``.jpeg``, ``.bmp`` and ``.gif`` (first frame), other files are ignored)::

    DIR/cat/001.jpg, DIR/cat/sub/002.jpg, DIR/dog/003.jpg, ...   labelled: classes are the subfolder names, sorted
    DIR/001.png, DIR/002.png, ...                                 unlabelled: trains only, probes need labels

Class folders are searched recursively; an empty class folder is skipped; a single class folder counts as a flat
folder (one label carries no information); images both at the top and in subfolders are an error. A labelled folder
is split into train and test by ``test_size``, stratified by class, with ``seed``; an unlabelled one has no test
split (``x_test`` is ``None``).

Images keep their size when all share it; otherwise ``image_size`` is needed (each image's centre crop of the
target aspect ratio is resized to it with antialiasing). Colour: when every image is grayscale the dataset has one
channel; otherwise grayscale images are converted to RGB (the gray value in all three channels) and alpha channels
are dropped. Pillow reads each file's header first (size, mode); an unreadable or corrupt file is an error naming it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kspectral.data import datasets as _datasets
from kspectral.data.datasets import ImageDataset, memory_counts, stratified_split
from kspectral.errors import InputError

#: the image files a folder dataset reads (by suffix, case-insensitive)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")

_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


def _visible(entries):
    return sorted((e for e in entries if not e.name.startswith(".")), key=lambda e: e.name)


def _images_under(folder):
    found = []
    for root, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(os.path.join(root, f) for f in sorted(files)
                     if not f.startswith(".") and f.lower().endswith(IMAGE_SUFFIXES))
    return found


def scan_folder(folder):
    """``(paths, labels, class_names)`` of a folder of images; ``labels`` and ``class_names`` are ``None`` when flat.

    Raises:
        ValueError: no images, or images both at the top level and in class subfolders.
    """
    folder = Path(folder)
    entries = _visible(os.scandir(folder))
    top = [str(folder / e.name) for e in entries if e.is_file() and e.name.lower().endswith(IMAGE_SUFFIXES)]
    classes = {}
    for entry in entries:
        if entry.is_dir():
            files = _images_under(folder / entry.name)
            if files:
                classes[entry.name] = files
    if top and classes:
        raise InputError(
            f"{folder} has images at its top level ({Path(top[0]).name}, ...) and in class subfolders "
            f"({', '.join(list(classes)[:3])}); move the top-level images into a class folder (labelled) or the "
            "images out of the subfolders (unlabelled)"
        )
    if not top and not classes:
        raise InputError(f"{folder} contains no images ({', '.join(IMAGE_SUFFIXES)} files, in the folder itself or "
                         "in class subfolders)")
    if len(classes) == 1:
        (only,) = classes.values()
        return only, None, None
    if not classes:
        return top, None, None
    names = sorted(classes)
    paths = [p for c in names for p in classes[c]]
    labels = np.concatenate([np.full(len(classes[c]), k, np.int64) for k, c in enumerate(names)])
    return paths, labels, tuple(names)


def read_headers(paths):
    """``(sizes, gray)``: each image's ``(height, width)`` and whether it is grayscale, read by Pillow.

    Raises:
        ValueError: naming the first file Pillow cannot identify as an image.
    """
    from PIL import Image, UnidentifiedImageError

    sizes, gray = [], []
    for path in paths:
        try:
            with Image.open(path) as image:
                width, height = image.size
                mode = image.mode
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
            raise InputError(f"cannot read image {path}: {exc}; remove or replace the file") from None
        sizes.append((height, width))
        gray.append(mode in _GRAY_MODES)
    return sizes, np.array(gray, bool)


def _check_sizes(paths, sizes, folder):
    first = sizes[0]
    for path, size in zip(paths, sizes):
        if size != first:
            raise InputError(
                f"the images in {folder} differ in size: {paths[0]} is {first[1]}×{first[0]} (width×height), "
                f"{path} is {size[1]}×{size[0]}; pass image_size=S (--image-size S) to centre-crop and resize them "
                "all to S×S"
            )
    return first


def _decode_fn(size, channels):
    import tensorflow as tf

    from kspectral.data import _images

    def decode(path):
        # channels=1 only when Pillow found every image grayscale; GIFs (palette images) always decode to RGB
        raw = tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)
        raw.set_shape((None, None, channels))
        return _images.fit_image(raw, size, channels)

    return decode


def _find_bad_file(paths, decode):
    import tensorflow as tf

    for path in paths:
        try:
            decode(tf.constant(path))
        except (tf.errors.OpError, ValueError) as exc:
            message = str(exc).split("[Op:")[0].split("}}")[-1].strip()
            return path, message
    return None, None


def _read_images(paths, size, channels, sample_shape):
    """The images at ``paths`` as float32 ``(N, *sample_shape)``; a file that fails to decode is named."""
    import tensorflow as tf

    from kspectral.data import _images

    decode = _decode_fn(size, channels)
    ds = tf.data.Dataset.from_tensor_slices(list(paths)).map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    try:
        x, _ = _images.to_memory(ds, len(paths), sample_shape, labelled=False)
    except tf.errors.OpError:
        path, message = _find_bad_file(paths, decode)
        if path is None:
            raise
        raise InputError(f"cannot decode image {path} ({message}); remove or replace the file") from None
    return x


def _stream(paths, size, channels, sample_shape, seed, cache_budget):
    import tensorflow as tf

    from kspectral.data import _images

    decode = _decode_fn(size, channels)
    ds = tf.data.Dataset.from_tensor_slices(list(paths)).map(
        lambda p: _images.to_uint8(decode(p)), num_parallel_calls=tf.data.AUTOTUNE)
    return _images.mixed_stream([ds], [len(paths)], seed, cache_budget, _images.image_bytes(sample_shape))


def load_folder(folder, *, name=None, image_size=None, test_size=0.2, seed=0, memory_budget=None,
                cache_budget=None):
    """A folder of images as an :class:`~kspectral.data.ImageDataset` (layouts: the module docstring).

    Args:
        folder: the folder.
        name: name recorded in the dataset (default: the folder path).
        image_size: ``(height, width)``, or ``None`` to keep the images' common size.
        test_size: fraction of each class held out for the probes (labelled folders).
        seed: seed of the split (and of the order of an unlabelled folder's images).
        memory_budget, cache_budget: bytes, see :func:`kspectral.data.load`.

    Returns:
        labelled (``class_names``: the sorted subfolder names) or unlabelled ``ImageDataset``, default augmentation
        ``"simclr"``.

    Raises:
        ValueError: empty folder, mixed layout, images of different sizes without ``image_size``, an unreadable
            image (named), a class too small for a stratified split.

    Example:
        >>> ds = load_folder("photos", image_size=(64, 64))  # doctest: +SKIP
        >>> ds.class_names, ds.x_train.shape  # doctest: +SKIP
        (('cat', 'dog'), (160, 64, 64, 3))
    """
    name = name or str(folder)
    memory_budget = memory_budget or _datasets.MEMORY_BUDGET
    cache_budget = cache_budget or _datasets.CACHE_BUDGET
    paths, labels, class_names = scan_folder(folder)
    sizes, gray = read_headers(paths)
    channels = 1 if gray.all() else 3
    size = image_size or _check_sizes(paths, sizes, folder)
    sample_shape = (*size, channels)
    paths = np.array(paths)
    if labels is not None:
        train, test = stratified_split(len(paths), labels, test_size, seed, name)
    else:
        train, test = np.random.default_rng(seed).permutation(len(paths)), np.array([], np.int64)
    counts = [len(train), len(test)] if len(test) else [len(train)]
    kept = memory_counts(counts, sample_shape, memory_budget, name)
    x_train = _read_images(paths[train[:kept[0]]], size, channels, sample_shape)
    x_test = _read_images(paths[test[:kept[1]]], size, channels, sample_shape) if len(test) else None
    pretrain = None
    if kept[0] < len(train):
        pretrain = _stream(paths[train], size, channels, sample_shape, seed, cache_budget)
    labelled = labels is not None
    kind = f"{len(class_names)} class folders" if labelled else "unlabelled"
    return ImageDataset(
        name, x_train,
        labels[train[:kept[0]]] if labelled else None,
        x_test,
        labels[test[:kept[1]]] if labelled else None,
        num_classes=len(class_names) if labelled else None,
        class_names=class_names,
        pretrain=pretrain, num_pretrain=len(train) if pretrain is not None else None,
        default_augment="simclr",
        source=f"image folder {folder} ({len(paths)} images, {kind})",
    )
