"""Data: built-in datasets, augmentation presets and layers, and ``tf.data`` pipelines of positive pairs."""

from kspectral.data.augment import (
    AUGMENTERS,
    augmenter,
    blur_kernel_size,
    byol_augmenters,
    cifar_augmenter,
    color_jitter,
    digits_augmenter,
    multicrop,
    simclr_augmenter,
    vicreg_augmenters,
)
from kspectral.data.augmentations import CheckChannels, RandomApply, RandomResizedCrop, ReflectPadded, Solarize
from kspectral.data.arrays import as_dataset, from_arrays
from kspectral.data.datasets import (
    CACHE_BUDGET,
    DATASETS,
    MEMORY_BUDGET,
    ImageDataset,
    augmenter_for,
    check_dataset_name,
    digits,
    load,
)
from kspectral.data.pairs import augmented_pairs, graph_pairs, image_batches

__all__ = [
    "image_batches",
    "AUGMENTERS",
    "CACHE_BUDGET",
    "CheckChannels",
    "DATASETS",
    "ImageDataset",
    "MEMORY_BUDGET",
    "RandomApply",
    "RandomResizedCrop",
    "ReflectPadded",
    "Solarize",
    "augmented_pairs",
    "augmenter",
    "augmenter_for",
    "as_dataset",
    "blur_kernel_size",
    "byol_augmenters",
    "check_dataset_name",
    "cifar_augmenter",
    "color_jitter",
    "digits",
    "digits_augmenter",
    "from_arrays",
    "graph_pairs",
    "load",
    "multicrop",
    "simclr_augmenter",
    "vicreg_augmenters",
]
