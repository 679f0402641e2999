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
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kspectral.data.datasets import ImageDataset, stratified_split

_NPZ_KEYS = ("x", "y", "x_test", "y_test")


def _samples(array, key, path):
    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{path}: {key} has dtype {array.dtype}; give numbers (uint8 images, or floats)")
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim not in (2, 4) or array.shape[0] == 0:
        raise ValueError(f"{path}: {key} must have shape (N, D) features, (N, H, W) or (N, H, W, C) images with "
                         f"N ≥ 1, got {array.shape}")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / np.float32(255.0)
    array = array.astype(np.float32)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{path}: {key} contains NaN or infinite values")
    return array


def _labels(y, key, x, path):
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(f"{path}: {key} must hold one label per sample, shape ({len(x)},), got {y.shape}")
    if y.dtype.kind not in "iuUSb":
        raise ValueError(f"{path}: {key} must hold integer or string labels, got dtype {y.dtype}")
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
        raise ValueError(f"cannot read array file {path}: {exc}") from None
    if path.suffix.lower() == ".npy":
        arrays = {"x": loaded}
    else:
        with loaded:
            unknown = sorted(set(loaded.files) - set(_NPZ_KEYS))
            if "x" not in loaded.files:
                raise ValueError(f"{path} has no array 'x' (it has: {', '.join(loaded.files) or 'none'}); save the "
                                 "samples as x, and optionally y, x_test, y_test")
            if unknown:
                raise ValueError(f"{path} has arrays kspectral does not read: {', '.join(unknown)}; use the names "
                                 f"{', '.join(_NPZ_KEYS)}")
            arrays = {key: loaded[key] for key in loaded.files}
    x = _samples(arrays["x"], "x", path)
    x_test = _samples(arrays["x_test"], "x_test", path) if "x_test" in arrays else None
    if x_test is not None and x_test.shape[1:] != x.shape[1:]:
        raise ValueError(f"{path}: x_test samples have shape {x_test.shape[1:]}, x samples {x.shape[1:]}")
    y = _labels(arrays["y"], "y", x, path) if "y" in arrays else None
    y_test = _labels(arrays["y_test"], "y_test", x_test, path) if "y_test" in arrays and x_test is not None else None
    if "y_test" in arrays and x_test is None:
        raise ValueError(f"{path} has y_test but no x_test; save the test samples as x_test")
    if y is not None and x_test is not None and y_test is None:
        raise ValueError(f"{path} has labels y and test samples x_test but no y_test; save y_test too (or drop "
                         "x_test and let test_size split x)")
    if y is None and y_test is not None:
        raise ValueError(f"{path} has y_test but no y; save the training labels as y")
    source = f"array file {path}"
    if y is None:
        return ImageDataset(name, x, None, x_test, None, num_classes=None, source=source)
    y, y_test, num_classes, class_names = _encode(y, y_test)
    if x_test is None:
        train, test = stratified_split(len(x), y, test_size, seed, name)
        x, x_test, y, y_test = x[train], x[test], y[train], y[test]
    return ImageDataset(name, x, y, x_test, y_test, num_classes=num_classes, class_names=class_names, source=source)
