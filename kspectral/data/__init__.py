"""Data: built-in datasets, augmentation presets and ``tf.data`` pipelines of positive pairs."""

from kspectral.data.augment import AUGMENTERS, augmenter, digits_augmenter
from kspectral.data.datasets import DATASETS, ImageDataset, digits, load
from kspectral.data.pairs import augmented_pairs, graph_pairs

__all__ = [
    "AUGMENTERS",
    "DATASETS",
    "ImageDataset",
    "augmented_pairs",
    "augmenter",
    "digits",
    "digits_augmenter",
    "graph_pairs",
    "load",
]
