"""Datasets by name: the built-in ``digits``, TFDS datasets, folders of images and ``.npz`` / ``.npy`` arrays.

:func:`load` returns an :class:`ImageDataset`: the labelled train and test splits as float32 arrays in memory (what
the probes and the closed-form baseline use) and, where pre-training sees other or more images than the labelled
train split (STL-10's unlabelled split, a split larger than the memory budget), a streamed ``tf.data.Dataset`` of
pre-training images.

Sources (:func:`check_dataset_name` validates a name without loading anything):

- ``"digits"``: scikit-learn's bundled 8×8 digits (no download).
- a TFDS dataset: ``cifar10``, ``cifar100``, ``stl10``, ``imagenette``, ``mnist``, ``fashion_mnist``, or
  ``tfds:NAME`` for any other (``tfds:NAME/CONFIG`` and ``tfds:NAME:VERSION`` work too). The data must be prepared
  in ``data_dir`` (:mod:`kspectral.data.tfds_source`); nothing is downloaded.
- a folder of images: class subfolders give labels, a flat folder is unlabelled (:mod:`kspectral.data.folders`).
- an ``.npz`` file (``x``, optional ``y``, ``x_test``, ``y_test``) or an ``.npy`` file of images or feature vectors
  (:mod:`kspectral.data.arrays`).

Memory: the labelled arrays are float32 (4 bytes per value). When the train and test splits together exceed
``memory_budget`` (default :data:`MEMORY_BUDGET`, 4 GiB), each split keeps its first images up to the budget for the
probes, and pre-training streams the whole train split from disk; a stream is cached in memory (as uint8 after
decoding and resizing) when it fits ``cache_budget`` (default :data:`CACHE_BUDGET`, 8 GiB), and is decoded anew each
epoch otherwise. MNIST (0.2 GiB), CIFAR-10/100 (0.7 GiB), STL-10's labelled splits (1.3 GiB) and Imagenette at
128 px (2.5 GiB) fit in memory; STL-10's 105 000 pre-training images (2.7 GiB as uint8) stream from a cache.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kspectral._validation import check_image_size, check_positive_int
from kspectral.errors import InputError

#: float32 bytes of the labelled train + test arrays held in memory; larger splits are truncated for the probes
MEMORY_BUDGET = 4 * 2**30
#: uint8 bytes of a pre-training stream cached in memory after decoding and resizing; larger streams are not cached
CACHE_BUDGET = 8 * 2**30

#: array files :func:`load` reads
ARRAY_SUFFIXES = (".npz", ".npy")


@dataclass(repr=False)
class ImageDataset:
    """A dataset: labelled (or unlabelled) train and test arrays in memory, and the images pre-training sees.

    Attributes:
        name: dataset name (as given to :func:`load`).
        x_train: float32 array ``(N, H, W, C)`` of images in ``[0, 1]``, or ``(N, D)`` of feature vectors (array
            files only; their values may lie outside ``[0, 1]``).
        y_train: int64 labels ``(N,)`` in ``[0, num_classes)``, or ``None`` for an unlabelled dataset.
        x_test: held-out images ``(M, ...)``, or ``None`` (unlabelled datasets have no test split unless an array
            file gives ``x_test``).
        y_test: int64 labels ``(M,)``, or ``None``.
        num_classes: number of classes, or ``None`` for an unlabelled dataset.
        class_names: name of each class (folder names, TFDS label names), or ``None``.
        pretrain: ``tf.data.Dataset`` of unbatched float32 images in ``[0, 1]`` for self-supervised pre-training,
            when they are not ``x_train`` (STL-10's ``unlabelled`` + ``train`` splits; a split larger than the memory
            budget, streamed from disk); ``None`` means ``x_train``. Not shuffled: shuffle it with a buffer.
        num_pretrain: number of pre-training images (``len(x_train)`` when ``pretrain`` is ``None``).
        default_augment: name of the augmentation preset that suits the dataset (``kspectral.data.augmenter``):
            ``"digits"`` for grayscale images, ``"cifar"`` for colour images of at most 64 px, ``"simclr"`` for
            larger ones; ``None`` for feature vectors, which image augmentations do not apply to.
        source: where the data came from, in words (for logs).

    Example:
        >>> ds = load("digits")
        >>> ds.image_shape, ds.channels, ds.labelled, ds.num_pretrain, ds.default_augment
        ((8, 8, 1), 1, True, 1437, 'digits')
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray | None
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    num_classes: int | None
    class_names: tuple | None = None
    pretrain: object = None
    num_pretrain: int | None = None
    default_augment: str | None = "auto"
    source: str = ""

    def __post_init__(self):
        if self.x_train is None or np.ndim(self.x_train) < 2 or len(self.x_train) == 0:
            raise InputError(f"dataset {self.name!r}: x_train must be a non-empty array of shape (N, ...)")
        if (self.y_train is None) != (self.num_classes is None):
            raise InputError(f"dataset {self.name!r}: give both y_train and num_classes, or neither (unlabelled)")
        for x, y, split in ((self.x_train, self.y_train, "train"), (self.x_test, self.y_test, "test")):
            if y is not None and (x is None or len(y) != len(x)):
                raise InputError(f"dataset {self.name!r}: y_{split} must have one label per image of x_{split}")
            if split == "test" and x is not None and x.shape[1:] != self.x_train.shape[1:]:
                raise InputError(f"dataset {self.name!r}: x_test has shape {x.shape[1:]} per sample, x_train "
                                 f"{self.x_train.shape[1:]}")
        if self.y_train is not None and self.x_test is not None and self.y_test is None:
            raise InputError(f"dataset {self.name!r}: a labelled dataset needs y_test for its x_test")
        if self.pretrain is None:
            self.num_pretrain = len(self.x_train)
        elif self.num_pretrain is None:
            count = int(self.pretrain.cardinality())
            if count < 0:
                raise InputError(f"dataset {self.name!r}: give num_pretrain, the pretrain stream has no known size")
            self.num_pretrain = count
        if self.default_augment == "auto":
            self.default_augment = default_augment(self.image_shape)

    @property
    def labelled(self):
        """Whether the dataset has labels (probes need them)."""
        return self.y_train is not None

    @property
    def image_shape(self):
        """Shape of one sample: ``(H, W, C)`` for images, ``(D,)`` for feature vectors."""
        return tuple(self.x_train.shape[1:])

    @property
    def channels(self):
        """Channels of the images (1 or 3), or ``None`` for feature vectors."""
        return self.image_shape[-1] if len(self.image_shape) == 3 else None

    def flat(self, split):
        """Samples of ``split`` (``"train"`` or ``"test"``) flattened to ``(N, H·W·C)`` float32."""
        if split not in ("train", "test"):
            raise InputError(f"split must be 'train' or 'test', got {split!r}")
        x = self.x_train if split == "train" else self.x_test
        if x is None:
            raise InputError(f"dataset {self.name!r} has no {split} split (it is unlabelled and holds out no images)")
        return x.reshape(len(x), -1)

    def pretrain_images(self):
        """``tf.data.Dataset`` of the unbatched float32 pre-training images: :attr:`pretrain`, else ``x_train``."""
        if self.pretrain is not None:
            return self.pretrain
        import tensorflow as tf

        return tf.data.Dataset.from_tensor_slices(self.x_train)

    def describe(self):
        """One line about the dataset, e.g. ``"digits: 1437 train / 360 test samples of 8×8×1, 10 classes"``."""
        shape = "×".join(map(str, self.image_shape))
        test = f" / {len(self.x_test)} test" if self.x_test is not None else ""
        classes = f", {self.num_classes} classes" if self.labelled else ", unlabelled"
        line = f"{self.name}: {len(self.x_train)} train{test} samples of {shape}{classes}"
        if self.num_pretrain != len(self.x_train):
            line += f"; pre-training on {self.num_pretrain} images"
        return line

    def __repr__(self):
        return f"ImageDataset({self.describe()})"


def default_augment(image_shape):
    """The augmentation preset for samples of ``image_shape``.

    ``"digits"`` for one channel, ``"cifar"`` (no blur; Chen et al. 2020, arXiv:2002.05709, §B.9) for colour images
    of at most 64 px, ``"simclr"`` for larger colour images, ``None`` for feature vectors ``(D,)`` and images with
    other channel counts.

    Example:
        >>> default_augment((32, 32, 3)), default_augment((96, 96, 3)), default_augment((28, 28, 1))
        ('cifar', 'simclr', 'digits')
    """
    if len(image_shape) != 3:
        return None
    height, width, channels = image_shape
    if channels == 1:
        return "digits"
    if channels != 3:
        return None
    return "cifar" if max(height, width) <= 64 else "simclr"


def augmenter_for(image_shape, preset=None, options=None, seed=None):
    """The augmentation preset ``preset`` (default: :func:`default_augment`) set up for samples of ``image_shape``.

    Presets that take a channel count get the images'; presets that take an ``image_size`` keep the images' size
    (``digits`` keeps its own 8 px default); ``options`` override both. ``seed=None`` draws fresh randomness.

    Args:
        image_shape: shape of one sample, ``(H, W, C)``.
        preset: a name of :data:`kspectral.data.AUGMENTERS` (``None``: the preset that suits the shape).
        options: the preset's options (e.g. ``{"strength": 0.5}``).
        seed: the augmenters' seed.

    Returns:
        the preset's augmenter: a Keras layer, or a tuple/list of them (one per view).

    Example:
        >>> aug = augmenter_for((16, 16, 3), "cifar", seed=0)   # 16 px RGB views of 16 px RGB images
    """
    import inspect

    from kspectral.data.augment import AUGMENTERS, augmenter

    image_shape = tuple(int(s) for s in image_shape)
    name = preset if preset is not None else default_augment(image_shape)
    if name is not None and (not isinstance(name, str) or name not in AUGMENTERS):
        raise InputError(f"unknown augmentation preset {name!r}; choose one of: {', '.join(AUGMENTERS)}")
    if len(image_shape) != 3:
        what = f"the {name!r} preset augments" if name is not None else "every augmentation preset augments"
        raise InputError(f"{what} images (H, W, C), but the samples are flat feature vectors of shape "
                         f"{image_shape}, which no preset applies to; use graph pairs (train --pairs knn or labels, "
                         "spectral --graph knn:K or labels), or from Python a Keras layer that augments vectors "
                         "(augment=layer)")
    if name is None:
        raise InputError(f"samples of shape {image_shape} are images with {image_shape[-1]} channels; the "
                         "augmentation presets take 1 (grayscale) or 3 (RGB): convert the images, or use graph pairs "
                         "(--pairs knn or --pairs labels)")
    if options is not None and not isinstance(options, dict):
        raise InputError(f"augment_options must be a dict of the preset's options, got {type(options).__name__}")
    options = dict(options or {})
    parameters = inspect.signature(AUGMENTERS[name]).parameters
    if "channels" in parameters and len(image_shape) == 3:
        options.setdefault("channels", image_shape[-1])
    if "image_size" in parameters and name != "digits" and len(image_shape) == 3:
        options.setdefault("image_size", image_shape[:2])  # views keep the images' size
    return augmenter(name, seed=None if seed is None else int(seed), **options)


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

    test_size = check_test_size(test_size)
    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[..., None]
    y = bunch.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=test_size, random_state=seed, stratify=y)
    return ImageDataset("digits", x_train, y_train, x_test, y_test, num_classes=10,
                        class_names=tuple(str(k) for k in range(10)), default_augment="digits",
                        source="scikit-learn load_digits")


#: the built-in and known TFDS datasets, with a description (``tfds:NAME`` reaches any other TFDS dataset)
DATASETS = {
    "digits": "scikit-learn's 8×8 digits, 1797 images, 10 classes (built in, no download)",
    "cifar10": "CIFAR-10 (TFDS): 50 000 train / 10 000 test 32×32 colour images, 10 classes",
    "cifar100": "CIFAR-100 (TFDS): 50 000 train / 10 000 test 32×32 colour images, 100 classes",
    "stl10": "STL-10 (TFDS): 100 000 unlabelled + 5 000 train / 8 000 test 96×96 colour images, 10 classes",
    "imagenette": "Imagenette (TFDS): 9 469 train / 3 925 validation colour images of 10 ImageNet classes, 128 px",
    "mnist": "MNIST (TFDS): 60 000 train / 10 000 test 28×28 grayscale digits, 10 classes",
    "fashion_mnist": "Fashion-MNIST (TFDS): 60 000 train / 10 000 test 28×28 grayscale articles, 10 classes",
}

#: the image shape ``(H, W, C)`` each dataset of :data:`DATASETS` loads at by default (Imagenette: resized to 128 px)
IMAGE_SHAPES = {
    "digits": (8, 8, 1),
    "cifar10": (32, 32, 3),
    "cifar100": (32, 32, 3),
    "stl10": (96, 96, 3),
    "imagenette": (128, 128, 3),
    "mnist": (28, 28, 1),
    "fashion_mnist": (28, 28, 1),
}

_TFDS_NAME = re.compile(r"[A-Za-z0-9_]+(/[A-Za-z0-9_.\-]+)?(:[0-9.*]+)?")


def _allowed():
    return (f"a built-in or TFDS dataset ({', '.join(DATASETS)}), tfds:NAME for any other TFDS dataset, a folder of "
            "images, or an .npz / .npy file")


def _looks_like_path(name):
    return (os.sep in name or "/" in name or name.startswith((".", "~"))
            or name.lower().endswith(ARRAY_SUFFIXES))


def resolve_dataset_name(name):
    """``(kind, value)`` for a dataset name, without loading anything; raise ``ValueError`` for a bad one.

    ``kind`` is ``"digits"``, ``"tfds"`` (``value``: the TFDS name), ``"folder"``, ``"npz"`` or ``"npy"``
    (``value``: the path). Names come first: a folder called ``mnist`` is reached as ``./mnist``.
    """
    if not isinstance(name, (str, os.PathLike)):
        raise TypeError(f"dataset must be a name or a path, got {type(name).__name__}")
    name = os.fspath(name)
    if not name.strip():
        raise InputError(f"dataset name is empty; choose {_allowed()}")
    if name == "digits":
        return "digits", name
    if name in DATASETS:
        return "tfds", name
    if name.startswith("tfds:"):
        tfds_name = name[len("tfds:"):]
        if not _TFDS_NAME.fullmatch(tfds_name):
            raise InputError(f"bad TFDS dataset {name!r}: write tfds:NAME, tfds:NAME/CONFIG or tfds:NAME:VERSION, "
                             "e.g. tfds:cifar10_corrupted/brightness_1")
        return "tfds", tfds_name
    path = Path(name).expanduser()
    if path.is_dir():
        return "folder", str(path)
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix not in ARRAY_SUFFIXES:
            raise InputError(f"dataset file {name!r} is not an .npz or .npy array file; give a folder of images or "
                             "an .npz / .npy file")
        return suffix[1:], str(path)
    if _looks_like_path(name):
        raise InputError(f"dataset path {name!r} does not exist; give an existing folder of images or .npz / .npy "
                         "file")
    close = difflib.get_close_matches(name, DATASETS, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise InputError(f"unknown dataset {name!r}{hint}; choose {_allowed()}")


def check_dataset_name(name):
    """Check a dataset name or path quickly (no loading, no TFDS import) and return it; raise ``ValueError``.

    Accepted: ``digits``, the known TFDS names (:data:`DATASETS`), ``tfds:NAME`` (its existence is checked when
    loading), an existing folder, an existing ``.npz`` / ``.npy`` file.

    Example:
        >>> check_dataset_name("cifar10")
        'cifar10'
    """
    resolve_dataset_name(name)
    return name


def check_test_size(test_size):
    """``test_size`` as a float strictly between 0 and 1, or ``ValueError``."""
    if isinstance(test_size, bool) or not isinstance(test_size, (int, float, np.floating, np.integer)):
        raise TypeError(f"test_size must be a number between 0 and 1, got {test_size!r}")
    if not 0.0 < float(test_size) < 1.0:
        raise InputError(f"test_size must lie strictly between 0 and 1, got {test_size}")
    return float(test_size)


def parse_image_size(image_size):
    """``(height, width)`` from ``None``, an int side or a pair."""
    return check_image_size(image_size)


def check_budget(value, name, default):
    """A byte budget: ``default`` for ``None``, else a positive int."""
    if value is None:
        return default
    return check_positive_int(value, name)


def memory_counts(counts, sample_shape, memory_budget, what):
    """How many samples of each split fit ``memory_budget`` float32 bytes together (all of them when they fit).

    Larger splits keep the same fraction each; a warning says so.
    """
    per_sample = 4 * math.prod(sample_shape)
    total = per_sample * sum(counts)
    if total <= memory_budget:
        return list(counts)
    fraction = memory_budget / total
    kept = [max(1, int(n * fraction)) for n in counts]
    warnings.warn(
        f"{what}: the labelled splits ({' + '.join(map(str, counts))} samples, {total / 2**30:.1f} GiB as float32) "
        f"exceed the memory budget of {memory_budget / 2**30:.1f} GiB; the probes use the first "
        f"{' + '.join(map(str, kept))} and pre-training streams all training images (raise memory_budget to keep "
        "more)",
        stacklevel=3,
    )
    return kept


def stratified_split(n, labels, test_size, seed, what):
    """Train and test indices of ``n`` samples, stratified by ``labels`` (``None``: plain shuffle split)."""
    from sklearn.model_selection import train_test_split

    index = np.arange(n)
    if n < 2:
        raise InputError(f"{what}: {n} sample cannot be split into train and test; add samples")
    try:
        train, test = train_test_split(index, test_size=test_size, random_state=seed, stratify=labels)
    except ValueError as exc:
        raise InputError(f"{what}: cannot split {n} samples into train and test with test_size={test_size} "
                         f"stratified by label ({exc}); add samples to the small classes or change test_size") from None
    return train, test


def load(name, *, data_dir=None, image_size=None, test_size=0.2, seed=0, memory_budget=None, cache_budget=None):
    """Load a dataset by name or path (see :func:`check_dataset_name` for the names).

    Args:
        name: ``"digits"``, a TFDS name (``cifar10``, ``cifar100``, ``stl10``, ``imagenette``, ``mnist``,
            ``fashion_mnist``, ``tfds:NAME``), a folder of images, or an ``.npz`` / ``.npy`` file.
        data_dir: where prepared TFDS data lie (``None``: TFDS's default, ``~/tensorflow_datasets`` or
            ``$TFDS_DATA_DIR``). Unused by other sources.
        image_size: resize images to this side or ``(height, width)``: the centre crop of the target aspect ratio
            is resized with antialiasing. ``None``: the dataset's own size (Imagenette: 128 px; folders and TFDS
            datasets whose images vary in size need it). Not for ``digits`` and array files.
        test_size: fraction held out for the probes where the data has no test split (``digits``, folders, array
            files with labels and no ``x_test``, TFDS datasets without ``test`` / ``validation`` splits).
        seed: seed of that split and of the mixing of pre-training streams.
        memory_budget: float32 bytes of labelled arrays held in memory (default :data:`MEMORY_BUDGET`).
        cache_budget: uint8 bytes of a pre-training stream cached in memory (default :data:`CACHE_BUDGET`).

    Returns:
        :class:`ImageDataset`.

    Raises:
        ValueError: unknown name, missing path, TFDS data not prepared in ``data_dir``, unreadable images, ...

    Example:
        >>> ds = load("digits", test_size=0.25, seed=1)
        >>> ds.x_train.shape, ds.x_test.shape
        ((1347, 8, 8, 1), (450, 8, 8, 1))
    """
    kind, value = resolve_dataset_name(name)
    test_size = check_test_size(test_size)
    size = parse_image_size(image_size)
    memory_budget = check_budget(memory_budget, "memory_budget", MEMORY_BUDGET)
    cache_budget = check_budget(cache_budget, "cache_budget", CACHE_BUDGET)
    if kind == "digits":
        if size is not None:
            raise InputError("digits has fixed 8×8 images; leave image_size unset (None)")
        return digits(test_size=test_size, seed=seed)
    if kind == "tfds":
        from kspectral.data.tfds_source import load_tfds

        return load_tfds(value, name=name, data_dir=data_dir, image_size=size, test_size=test_size, seed=seed,
                         memory_budget=memory_budget, cache_budget=cache_budget)
    if kind == "folder":
        from kspectral.data.folders import load_folder

        return load_folder(value, name=name, image_size=size, test_size=test_size, seed=seed,
                           memory_budget=memory_budget, cache_budget=cache_budget)
    from kspectral.data.arrays import load_array_file

    if size is not None:
        raise InputError(f"{name}: array files are used at their own size; leave image_size unset (None) or resize "
                         "the arrays before saving them")
    return load_array_file(value, name=name, test_size=test_size, seed=seed)
