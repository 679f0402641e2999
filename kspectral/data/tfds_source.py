"""TFDS datasets, read from prepared data only: nothing is downloaded, an unprepared dataset fails at once.

Offline, ``tfds.load`` of a dataset that is not prepared retries its downloads for minutes before it fails; here
:func:`load_tfds` asks the builder whether its files are in ``data_dir`` (``builder.is_prepared()``, a local file
check) and stops with instructions when they are not. Prepare the data on a machine with network access::

    tfds build cifar10 --data_dir DIR
    # or: python -c "import tensorflow_datasets as tfds; tfds.load('cifar10', data_dir='DIR')"

then copy ``DIR`` and pass ``data_dir=DIR`` (``--data-dir DIR``).

Splits (:data:`TFDS_SPECS`): the labelled arrays come from ``train`` and ``test`` (Imagenette: ``validation``);
STL-10 pre-trains on its ``unlabelled`` split (100 000 images) mixed with ``train`` (Coates et al. 2011, "An Analysis
of Single-Layer Networks in Unsupervised Feature Learning", AISTATS); probes use ``train`` / ``test``. Imagenette's
images vary in size and are centre-cropped and resized to 128 px by default, the resolution of Lightly's Imagenette
benchmark (160 px images trained at 128 px). ``tfds:NAME`` of a known name, or of one of its configs
(``tfds:imagenette/160px-v2``), follows the same rules. Other TFDS datasets (``tfds:NAME``) use their ``image`` (or only
``Image``) feature and ``label`` (or only ``ClassLabel``) feature; without a ``test`` or ``validation`` split, the
last ``test_size`` of ``train`` is held out (TFDS shuffles examples when it prepares them).
"""

from __future__ import annotations

import contextlib
import os

import re
from dataclasses import dataclass

from kspectral.data import _images
from kspectral.data.datasets import DATASETS, ImageDataset, default_augment, memory_counts
from kspectral.errors import InputError


@dataclass(frozen=True)
class TfdsSpec:
    """How a known TFDS dataset is used: its probe splits, extra pre-training splits, default size and preset."""

    test: str = "test"
    pretrain_extra: tuple = ()
    image_size: tuple | None = None
    augment: str | None = None


#: the TFDS datasets known by bare name
TFDS_SPECS = {
    "cifar10": TfdsSpec(augment="cifar"),
    "cifar100": TfdsSpec(augment="cifar"),
    "stl10": TfdsSpec(pretrain_extra=("unlabelled",), augment="simclr"),
    "imagenette": TfdsSpec(test="validation", image_size=(128, 128), augment="simclr"),
    "mnist": TfdsSpec(augment="digits"),
    "fashion_mnist": TfdsSpec(augment="digits"),
}


def _tfds_mocked():
    """Whether ``tfds.testing.mock_data`` is active: it fakes prepared data, so the prepared check is skipped."""
    import tensorflow_datasets as tfds

    prepare = tfds.core.DatasetBuilder.download_and_prepare
    return getattr(prepare, "__module__", "") == "tensorflow_datasets.testing.mocking"


def not_prepared_message(tfds_name, data_dir):
    """The error for a dataset that is not in ``data_dir``, with how to prepare it."""
    return (
        f"{tfds_name} is not prepared in {data_dir}; prepare it on a machine with network access (e.g. "
        f"`tfds build {tfds_name} --data_dir DIR` or `python -c \"import tensorflow_datasets as tfds; "
        f"tfds.load('{tfds_name}', data_dir='DIR')\"`), copy DIR here and pass --data-dir DIR"
    )


def _builder_problem(tfds_name, exc):
    """TFDS's reason a builder could not be made, with the configs it has when the config was wrong."""
    import tensorflow_datasets as tfds

    message = re.sub(r'^Failed to construct dataset .*?builder_kwargs ".*?": ', "", str(exc).strip().splitlines()[0])
    if "BuilderConfig" in message:
        message = message.split(" Here are")[0].rstrip(".")
        try:
            configs = [config.name for config in tfds.builder_cls(tfds_name.split("/")[0]).BUILDER_CONFIGS]
        except Exception:  # noqa: BLE001 - the listing is only a hint
            configs = []
        if configs:
            message += f"; its configs: {', '.join(configs)}"
    return message


@contextlib.contextmanager
def _quiet_absl():
    """Silence TFDS's absl warnings (e.g. "Variant folder … has no dataset_info.json") while probing a builder:
    the error raised when the data are missing says it better, in one line."""
    from absl import logging as absl_logging

    level = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)
    try:
        yield
    finally:
        absl_logging.set_verbosity(level)


def _builder(tfds_name, data_dir):
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core import constants
    from tensorflow_datasets.core.registered import DatasetNotFoundError

    if data_dir is not None and not os.path.isdir(os.path.expanduser(str(data_dir))) and not _tfds_mocked():
        raise InputError(f"--data-dir {data_dir} does not exist; pass the folder that holds the prepared TFDS data "
                         f"(e.g. ~/tensorflow_datasets on the machine that prepared {tfds_name})")
    try:
        with _quiet_absl():
            builder = tfds.builder(tfds_name, data_dir=data_dir)
    except DatasetNotFoundError as exc:
        match = re.search(r"Did you mean: .*-> (\S+)", str(exc))
        hint = f" (did you mean tfds:{match.group(1)}?)" if match else ""
        known = ", ".join(n for n in DATASETS if n != "digits")
        folder = tfds_name.split("/")[0].split(":")[0]
        where = (f"--data-dir {data_dir} holds no {folder}/ folder either" if data_dir is not None else
                 "no --data-dir was given, so only TFDS's catalog and its default folder "
                 f"({constants.DATA_DIR}) were searched")
        raise InputError(f"unknown TFDS dataset {tfds_name!r}{hint}; known datasets: {known}, or tfds:NAME with a "
                         "name from `tfds.list_builders()`; a dataset prepared outside TFDS's catalog (your own "
                         f"builder, tfds.dataset_builders.store_as_tfds_dataset) is found from its files in the "
                         f"folder it was prepared in: pass --data-dir DIR, the folder that holds {folder}/ ({where})"
                         ) from None
    except (ValueError, KeyError, TypeError, AssertionError) as exc:  # e.g. an unknown config or version
        raise InputError(f"bad TFDS dataset {tfds_name!r}: {_builder_problem(tfds_name, exc)}") from None
    with _quiet_absl():
        prepared = builder.is_prepared()
    if not (prepared or _tfds_mocked()):
        shown = data_dir if data_dir is not None else constants.DATA_DIR
        raise InputError(not_prepared_message(tfds_name, shown))
    return builder


def _feature_keys(builder, tfds_name):
    import tensorflow_datasets as tfds

    features = builder.info.features
    items = dict(features.items()) if hasattr(features, "items") else {}

    def pick(kind, preferred):
        if preferred in items and isinstance(items[preferred], kind):
            return preferred
        keys = [k for k, f in items.items() if isinstance(f, kind)]
        return keys[0] if len(keys) == 1 else None

    image_key = pick(tfds.features.Image, "image")
    if image_key is None:
        raise InputError(f"TFDS dataset {tfds_name!r} has no single image feature (its features: "
                         f"{', '.join(items) or 'none'}); kspectral reads datasets of images")
    label_key = pick(tfds.features.ClassLabel, "label")
    return image_key, label_key


def _splits(builder, tfds_name, spec):
    """``(train, test, extra)`` split names; ``test`` is None when the dataset has none."""
    known = list(builder.info.splits)  # empty under tfds.testing.mock_data: assume the usual names
    if spec is not None:
        return "train", spec.test, spec.pretrain_extra
    if not known:
        return "train", "test", ()
    train = "train" if "train" in known else known[0]
    test = next((s for s in ("test", "validation", "valid", "val") if s in known and s != train), None)
    return train, test, ()


def _count(builder, split, ds):
    count = int(ds.cardinality())
    if count < 0:
        count = builder.info.splits[split].num_examples
    return count


def load_tfds(tfds_name, *, name=None, data_dir=None, image_size=None, test_size=0.2, seed=0,
              memory_budget=None, cache_budget=None):
    """A prepared TFDS dataset as an :class:`~kspectral.data.ImageDataset`.

    Args:
        tfds_name: TFDS name, e.g. ``"cifar10"``, ``"imagenette/160px-v2"``.
        name: name recorded in the dataset (default ``tfds_name``).
        data_dir: the prepared data's folder (``None``: TFDS's default).
        image_size: ``(height, width)`` or ``None`` (the dataset's size; Imagenette 128 px).
        test_size: fraction of ``train`` held out when there is no test split.
        seed: seed of the pre-training stream's mixing.
        memory_budget, cache_budget: bytes, see :func:`kspectral.data.load`.

    Raises:
        ValueError: unknown dataset, not prepared in ``data_dir`` (at once, no network), no image feature, images
            of varying size without ``image_size``.

    Example:
        >>> import tensorflow_datasets as tfds
        >>> with tfds.testing.mock_data(num_examples=4):
        ...     ds = load_tfds("stl10", image_size=(32, 32))
        >>> ds.x_train.shape, ds.num_pretrain
        ((4, 32, 32, 3), 8)
    """
    import tensorflow as tf

    from kspectral.data.datasets import CACHE_BUDGET, MEMORY_BUDGET

    name = name or tfds_name
    memory_budget = memory_budget or MEMORY_BUDGET
    cache_budget = cache_budget or CACHE_BUDGET
    spec = TFDS_SPECS.get(re.split(r"[/:]", tfds_name)[0])  # imagenette/160px-v2 is still Imagenette
    builder = _builder(tfds_name, data_dir)
    image_key, label_key = _feature_keys(builder, tfds_name)
    image_feature = builder.info.features[image_key]
    height, width, channels = image_feature.shape
    channels = channels or 3
    size = image_size or (spec.image_size if spec else None)
    if size is None:
        if height is None or width is None:
            raise InputError(f"the images of {name} vary in size; pass image_size=S (--image-size S) to centre-crop "
                             "and resize them to S×S")
        size = (height, width)
    sample_shape = (*size, channels)
    train, test, extra = _splits(builder, tfds_name, spec)

    def read(split, labelled, fitted_dtype="float"):
        ds = builder.as_dataset(split=split, shuffle_files=False)
        count = _count(builder, split, ds)

        def fit(example):
            image = _images.fit_image(example[image_key], size, channels)
            if fitted_dtype == "uint8":
                image = _images.to_uint8(image)
            return (image, example[label_key]) if labelled else image

        return ds.map(fit, num_parallel_calls=tf.data.AUTOTUNE), count

    labelled = label_key is not None
    train_ds, n_train = read(train, labelled)
    if test is None:  # hold out the last test_size of train (TFDS shuffled the examples when preparing them)
        n_test = max(1, round(test_size * n_train))
        if n_test >= n_train:
            raise InputError(f"{name}: {n_train} training examples are too few to hold out test_size={test_size}")
        train, test = f"{train}[:{n_train - n_test}]", f"{train}[{n_train - n_test}:]"
        train_ds, n_train = read(train, labelled)
    test_ds, n_test = read(test, labelled)
    keep_train, keep_test = memory_counts([n_train, n_test], sample_shape, memory_budget, name)
    x_train, y_train = _images.to_memory(train_ds, keep_train, sample_shape, labelled)
    x_test, y_test = _images.to_memory(test_ds, keep_test, sample_shape, labelled)

    pretrain = num_pretrain = None
    if extra or keep_train < n_train:
        parts, counts = [], []
        for split in (train, *extra):
            ds, count = read(split, labelled=False, fitted_dtype="uint8")
            parts.append(ds)
            counts.append(count)
        pretrain = _images.mixed_stream(parts, counts, seed, cache_budget, _images.image_bytes(sample_shape))
        num_pretrain = sum(counts)

    label_feature = builder.info.features[label_key] if labelled else None
    version = builder.info.version
    splits = f"{train}/{test}" + "".join(f"+{s}" for s in extra)
    return ImageDataset(
        name, x_train, y_train, x_test if labelled or len(x_test) else None, y_test,
        num_classes=label_feature.num_classes if labelled else None,
        class_names=tuple(label_feature.names) if labelled else None,
        pretrain=pretrain, num_pretrain=num_pretrain,
        default_augment=(spec.augment if spec else default_augment(sample_shape)),
        source=f"TFDS {builder.name} {version} ({splits}) in {builder.data_dir}",
    )
