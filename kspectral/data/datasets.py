"""Built-in datasets. ``digits`` ships with scikit-learn, so the default run needs no download."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ImageDataset:
    """Images with labels, split into train and test.

    Attributes:
        name: dataset name.
        x_train, x_test: float32 images, shape ``(N, H, W, C)``, values in ``[0, 1]``.
        y_train, y_test: int64 labels, shape ``(N,)``.
        num_classes: number of classes.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int

    @property
    def image_shape(self):
        return tuple(self.x_train.shape[1:])

    def flat(self, split):
        """Images of ``split`` (``"train"`` or ``"test"``) flattened to ``(N, H·W·C)``."""
        x = {"train": self.x_train, "test": self.x_test}[split]
        return x.reshape(len(x), -1)


def digits(test_size=0.2, seed=0):
    """scikit-learn's bundled 8×8 handwritten digits (1797 images, 10 classes), stratified split.

    Args:
        test_size: fraction of images held out for testing.
        seed: seed of the split.

    Returns:
        :class:`ImageDataset` with images of shape ``(8, 8, 1)`` scaled from ``[0, 16]`` to ``[0, 1]``.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must lie strictly between 0 and 1, got {test_size}")
    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[..., None]
    y = bunch.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=test_size, random_state=seed, stratify=y)
    return ImageDataset("digits", x_train, y_train, x_test, y_test, num_classes=10)


DATASETS = {"digits": digits}


def load(name, **kwargs):
    """Load a built-in dataset by name (``"digits"``)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    return DATASETS[name](**kwargs)
