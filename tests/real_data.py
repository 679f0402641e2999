"""Small real datasets that no one in the project made, built offline inside the tests.

- scikit-image's LFW subset (``skimage.data.lfw_subset()``, shipped inside the scikit-image wheel: no download):
  200 grayscale 25×25 crops, the first 100 faces and the last 100 non-faces (background crops of the same photos);
- scikit-learn's two bundled sample photos (``sklearn.datasets.load_sample_images()``, ``china.jpg`` and
  ``flower.jpg``, 427×640 RGB): patches of them, labelled by the photo they come from.
"""

from __future__ import annotations

import numpy as np

#: the LFW subset's two classes, in label order
LFW_CLASSES = ("face", "nonface")


def lfw():
    """``(x, y)``: the LFW subset as float32 images ``(200, 25, 25, 1)`` in ``[0, 1]`` and labels (0 face, 1 not)."""
    from skimage.data import lfw_subset

    x = lfw_subset().astype(np.float32)[..., None]
    return x, np.repeat(np.arange(2), 100)


def write_lfw_folder(root):
    """The LFW subset as an image folder ``root/face/*.png``, ``root/nonface/*.png`` (8-bit grayscale PNGs)."""
    from PIL import Image

    x, y = lfw()
    for i, (image, label) in enumerate(zip(x, y)):
        folder = root / LFW_CLASSES[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.rint(image[..., 0] * 255).astype(np.uint8)).save(folder / f"{i:03d}.png")
    return root


def write_lfw_tfds(data_dir):
    """The LFW subset as a TFDS dataset ``lfw_subset`` (160 train / 40 test) prepared in ``data_dir``, offline, with
    ``tfds.dataset_builders.store_as_tfds_dataset``: a dataset outside TFDS's catalog, found from its files."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    x, y = lfw()
    order = np.random.default_rng(0).permutation(len(x))
    images = np.rint(x * 255).astype(np.uint8)
    features = tfds.features.FeaturesDict({
        "image": tfds.features.Image(shape=(25, 25, 1)),
        "label": tfds.features.ClassLabel(names=list(LFW_CLASSES)),
    })

    def split(index):
        return tf.data.Dataset.from_tensor_slices({"image": images[index], "label": y[index]})

    tfds.dataset_builders.store_as_tfds_dataset(
        name="lfw_subset", version="1.0.0", features=features, data_dir=str(data_dir),
        split_datasets={"train": split(order[:160]), "test": split(order[160:])},
    )
    return data_dir


def sample_patches(size=16, per_image=60, seed=0):
    """``(x, y)``: ``per_image`` random ``size``×``size`` RGB patches of each of scikit-learn's two sample photos,
    float32 in ``[0, 1]``, labelled by photo (0 china.jpg, 1 flower.jpg)."""
    from sklearn.datasets import load_sample_images

    rng = np.random.default_rng(seed)
    patches, labels = [], []
    for label, photo in enumerate(load_sample_images().images):
        rows = rng.integers(0, photo.shape[0] - size, per_image)
        cols = rng.integers(0, photo.shape[1] - size, per_image)
        patches += [photo[r:r + size, c:c + size] for r, c in zip(rows, cols)]
        labels += [label] * per_image
    return np.stack(patches).astype(np.float32) / 255.0, np.asarray(labels)


def write_flat_folder(root, images):
    """Images ``(N, H, W, 3)`` in ``[0, 1]`` as an unlabelled folder of PNGs ``root/0000.png``, ..."""
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        Image.fromarray(np.rint(image * 255).astype(np.uint8)).save(root / f"{i:04d}.png")
    return root
