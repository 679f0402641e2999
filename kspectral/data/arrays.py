"""Array files: ``.npz`` (``x``, optional ``y``, ``x_test``, ``y_test``) and ``.npy`` (``x`` only, unlabelled).

Samples are the rows of ``x``:

- ``(N, H, W, C)``: images, channels last; ``(N, H, W)``: grayscale images, given a channel axis;
- ``(N, D)``: feature vectors (``image_shape == (D,)``; no image augmentation applies, so pairs come from a kNN or
  label graph).

Values: uint8 arrays are images in ``[0, 255]`` and are divided by 255. Every other numeric type (float, int other
than uint8, bool) is converted to float32 **unchanged**: values outside ``[0, 1]`` are accepted as features and are
not rescaled, so save images either as uint8 or as floats in ``[0, 1]`` (the augmentation presets assume that
range). NaN and infinite values are errors.

Labels ``y`` are one integer or string per sample: non-negative integers are kept as class indices
(``num_classes = max + 1``), anything else is mapped to ``0..K-1`` in sorted order (``class_names`` holds the
original values). Without ``x_test``, labelled data is split by ``test_size``, stratified, with ``seed``; unlabelled
data has no test split unless ``x_test`` is given. The arrays are read into memory (``allow_pickle=False``).

The same conventions hold for arrays in memory: :func:`from_arrays` makes a dataset of numpy arrays, and
:func:`as_dataset` turns whatever a workflow's ``data=`` takes (an :class:`ImageDataset`, a tuple of arrays, a finite
``tf.data.Dataset``) into one.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from kspectral.data.datasets import MEMORY_BUDGET, ImageDataset, check_budget, check_test_size, stratified_split
from kspectral.errors import InputError

_NPZ_KEYS = ("x", "y", "x_test", "y_test")


def _samples(array, key, path):
    """``array`` as float32 samples (uint8 divided by 255); ``path`` names the source in messages."""
    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        raise InputError(f"{path}: {key} has dtype {array.dtype}; give numbers (uint8 images, or floats)")
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim not in (2, 4) or array.shape[0] == 0:
        raise InputError(f"{path}: {key} must have shape (N, D) features, (N, H, W) or (N, H, W, C) images with "
                         f"N ≥ 1, got {array.shape}")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / np.float32(255.0)
    array = array.astype(np.float32)
    if not np.all(np.isfinite(array)):
        raise InputError(f"{path}: {key} contains NaN or infinite values")
    return array


def _labels(y, key, x, path):
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != len(x):
        raise InputError(f"{path}: {key} must hold one label per sample, shape ({len(x)},), got {y.shape}")
    if y.dtype.kind not in "iuUSb":
        raise InputError(f"{path}: {key} must hold integer or string labels, got dtype {y.dtype}")
    return y


def _encode(y_train, y_test):
    """Class indices and names: non-negative integers are kept, other labels are numbered in sorted order."""
    both = y_train if y_test is None else np.concatenate([y_train, y_test])
    if both.dtype.kind in "iu" and both.min() >= 0:
        num_classes = int(both.max()) + 1
        as_index = (lambda y: y.astype(np.int64))
        return as_index(y_train), None if y_test is None else as_index(y_test), num_classes, None
    names, index = np.unique(both, return_inverse=True)
    index = index.astype(np.int64)
    train, test = index[:len(y_train)], index[len(y_train):]
    return train, None if y_test is None else test, len(names), tuple(str(n) for n in names)


def load_array_file(path, *, name=None, test_size=0.2, seed=0):
    """An ``.npz`` or ``.npy`` file as an :class:`~kspectral.data.ImageDataset` (conventions: the module docstring).

    Args:
        path: the file.
        name: name recorded in the dataset (default: the path).
        test_size: held-out fraction of labelled data without ``x_test``.
        seed: seed of that stratified split.

    Example:
        >>> import numpy as np, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "toy.npz")
        >>> np.savez(path, x=np.zeros((10, 5, 5), np.uint8), y=np.arange(10) % 2)
        >>> ds = load_array_file(path)
        >>> ds.x_train.shape, ds.x_test.shape, ds.num_classes
        ((8, 5, 5, 1), (2, 5, 5, 1), 2)
    """
    path = Path(path)
    name = name or str(path)
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read array file {path}: {exc}") from None
    if path.suffix.lower() == ".npy":
        arrays = {"x": loaded}
    else:
        with loaded:
            unknown = sorted(set(loaded.files) - set(_NPZ_KEYS))
            if "x" not in loaded.files:
                raise InputError(f"{path} has no array 'x' (it has: {', '.join(loaded.files) or 'none'}); save the "
                                 "samples as x, and optionally y, x_test, y_test")
            if unknown:
                raise InputError(f"{path} has arrays kspectral does not read: {', '.join(unknown)}; use the names "
                                 f"{', '.join(_NPZ_KEYS)}")
            arrays = {key: loaded[key] for key in loaded.files}
    x = _samples(arrays["x"], "x", path)
    x_test = _samples(arrays["x_test"], "x_test", path) if "x_test" in arrays else None
    if x_test is not None and x_test.shape[1:] != x.shape[1:]:
        raise InputError(f"{path}: x_test samples have shape {x_test.shape[1:]}, x samples {x.shape[1:]}")
    y = _labels(arrays["y"], "y", x, path) if "y" in arrays else None
    y_test = _labels(arrays["y_test"], "y_test", x_test, path) if "y_test" in arrays and x_test is not None else None
    if "y_test" in arrays and x_test is None:
        raise InputError(f"{path} has y_test but no x_test; save the test samples as x_test")
    if y is not None and x_test is not None and y_test is None:
        raise InputError(f"{path} has labels y and test samples x_test but no y_test; save y_test too (or drop "
                         "x_test and let test_size split x)")
    if y is None and y_test is not None:
        raise InputError(f"{path} has y_test but no y; save the training labels as y")
    return _dataset(name, f"array file {path}", x, y, x_test, y_test, test_size, seed, where=path)


def _dataset(name, source, x, y, x_test, y_test, test_size, seed, where):
    """The :class:`ImageDataset` of checked samples and labels (split by ``test_size`` where needed)."""
    if y is None:
        return ImageDataset(name, x, None, x_test, None, num_classes=None, source=source)
    y, y_test, num_classes, class_names = _encode(y, y_test)
    if x_test is None:
        train, test = stratified_split(len(x), y, test_size, seed, str(where))
        x, x_test, y, y_test = x[train], x[test], y[train], y[test]
    return ImageDataset(name, x, y, x_test, y_test, num_classes=num_classes, class_names=class_names, source=source)


def from_arrays(x, y=None, x_test=None, y_test=None, *, name="arrays", test_size=0.2, seed=0):
    """An :class:`~kspectral.data.ImageDataset` of numpy arrays in memory, read like an ``.npz`` file.

    The conventions of :mod:`kspectral.data.arrays`: ``x`` is ``(N, H, W, C)`` / ``(N, H, W)`` images (uint8 in
    ``[0, 255]`` or floats in ``[0, 1]``) or ``(N, D)`` features; ``y`` one integer or string label per sample;
    without ``x_test``, labelled data is split by ``test_size`` (stratified, ``seed``).

    Args:
        x, y: training samples and optional labels.
        x_test, y_test: optional held-out samples and their labels (``y_test`` is needed when ``y`` is given).
        name: the dataset's name (recorded as ``config.dataset`` of a run trained on it).
        test_size: held-out fraction of labelled data without ``x_test``.
        seed: seed of that split.

    Example:
        >>> import numpy as np
        >>> ds = from_arrays(np.zeros((10, 4, 4, 3), np.uint8), np.arange(10) % 2)
        >>> ds.x_train.shape, ds.x_test.shape, ds.default_augment
        ((8, 4, 4, 3), (2, 4, 4, 3), 'cifar')
    """
    test_size = check_test_size(test_size)
    where = f"arrays {name!r}" if name != "arrays" else "arrays"
    x = _samples(x, "x", where)
    x_test = None if x_test is None else _samples(x_test, "x_test", where)
    if x_test is not None and x_test.shape[1:] != x.shape[1:]:
        raise InputError(f"{where}: x_test samples have shape {x_test.shape[1:]}, x samples {x.shape[1:]}")
    y = None if y is None else _labels(y, "y", x, where)
    if y_test is not None and x_test is None:
        raise InputError(f"{where}: y_test is given without x_test; pass the test samples too")
    y_test = None if y_test is None else _labels(y_test, "y_test", x_test, where)
    if y is not None and x_test is not None and y_test is None:
        raise InputError(f"{where}: labels y and test samples x_test but no y_test; pass y_test too (or drop x_test "
                         "and let test_size split x)")
    if y is None and y_test is not None:
        raise InputError(f"{where}: y_test is given without y; pass the training labels too")
    return _dataset(name, "numpy arrays", x, y, x_test, y_test, test_size, seed, where)


def _from_tf_data(ds, name, test_size, seed, memory_budget):
    """A finite ``tf.data.Dataset`` of images or ``(image, label)`` read into arrays (see :func:`as_dataset`)."""
    import tensorflow as tf

    spec = ds.element_spec
    labelled = isinstance(spec, tuple) and len(spec) == 2 and all(isinstance(s, tf.TensorSpec) for s in spec)
    if not (labelled or isinstance(spec, tf.TensorSpec)):
        raise InputError(f"a tf.data dataset given as data must yield images or (image, label) pairs, got elements "
                         f"{spec}")
    image_spec = spec[0] if labelled else spec
    if image_spec.shape.rank == 4:  # a batched dataset: one sample per element
        ds = ds.unbatch()
    elif image_spec.shape.rank not in (1, 2, 3):
        raise InputError(f"a tf.data dataset given as data must yield (H, W, C) / (H, W) images or (D,) features, "
                         f"or batches of them; got elements of shape {image_spec.shape}")
    if int(ds.cardinality()) == tf.data.INFINITE_CARDINALITY:
        raise InputError("the tf.data dataset given as data is infinite (e.g. .repeat()); pass a finite one")
    images, labels, used = [], [], 0
    for element in ds.as_numpy_iterator():
        image = element[0] if labelled else element
        used += 4 * image.size
        if used > memory_budget:
            raise InputError(f"the tf.data dataset given as data exceeds the memory budget of "
                             f"{memory_budget / 2**30:.1f} GiB as float32; save it as an .npz file or a folder of "
                             "images and pass its path as the dataset, or raise memory_budget")
        images.append(image)
        if labelled:
            labels.append(element[1])
    if not images:
        raise InputError("the tf.data dataset given as data is empty")
    try:
        x = np.stack(images)
    except ValueError:
        raise InputError("the tf.data dataset given as data yields images of different shapes; resize them to one "
                         "size first (e.g. with ds.map(lambda x, y: (tf.image.resize(x, (32, 32)), y)))") from None
    y = np.asarray(labels) if labelled else None
    return from_arrays(x, y, name=name, test_size=test_size, seed=seed)


def as_dataset(data, *, test_size=0.2, seed=0, name="arrays", memory_budget=None):
    """The :class:`~kspectral.data.ImageDataset` behind a workflow's ``data=`` argument.

    Accepted:

    - an :class:`~kspectral.data.ImageDataset`: returned as it is (its ``name`` is kept);
    - a tuple of numpy arrays ``(x, y)`` or ``(x_train, y_train, x_test, y_test)`` (``y`` may be ``None`` for
      unlabelled data: ``(x, None)``), read by :func:`from_arrays` (uint8 images are divided by 255);
    - a finite ``tf.data.Dataset`` of images or ``(image, label)`` pairs (batched or not): it is read into arrays
      in memory, which is allowed up to ``memory_budget`` float32 bytes (default
      :data:`~kspectral.data.MEMORY_BUDGET`, 4 GiB); a larger dataset is a ``ValueError``: save it as an ``.npz`` file
      or a folder of images and name it as the dataset, which streams. It must read in a fixed order, since the
      split and the training order follow ``seed``.

    Args:
        data: the data, as above.
        test_size: held-out fraction of labelled data without a test split.
        seed: seed of that split.
        name: the name given to arrays and tf.data datasets (an ImageDataset keeps its own).
        memory_budget: bytes a tf.data dataset may take in memory as float32.

    Example:
        >>> import numpy as np
        >>> ds = as_dataset((np.random.rand(20, 8, 8, 3).astype("float32"), np.arange(20) % 2), test_size=0.25)
        >>> ds.name, len(ds.x_train), len(ds.x_test)
        ('arrays', 15, 5)
    """
    if isinstance(data, ImageDataset):
        return data
    memory_budget = check_budget(memory_budget, "memory_budget", MEMORY_BUDGET)
    if isinstance(data, tuple):
        if len(data) not in (2, 4):
            raise InputError(f"data as a tuple is (x, y) or (x_train, y_train, x_test, y_test), got {len(data)} items")
        return from_arrays(*data, name=name, test_size=test_size, seed=seed)
    tf = sys.modules.get("tensorflow")  # a tf.data dataset implies TensorFlow is loaded
    if tf is not None and isinstance(data, tf.data.Dataset):
        return _from_tf_data(data, name, test_size, seed, memory_budget)
    if isinstance(data, np.ndarray):
        raise InputError("data as one array has no labels to probe with; pass (x, y), or (x, None) for unlabelled "
                         "images")
    raise InputError(f"data must be an ImageDataset, a tuple (x, y) / (x_train, y_train, x_test, y_test) of numpy "
                     f"arrays or a finite tf.data.Dataset, got {type(data).__name__}")
