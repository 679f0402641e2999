"""The view augmenters of a shipped recipe (or a recipe file), as its training run draws them."""

from __future__ import annotations

from kspectral._validation import check_image_size
from kspectral.errors import InputError


def recipe_augmenters(name, image_size=None, seed=None):
    """A recipe's view augmenters: a list with one augmenter per view, built as ``kspectral train --recipe NAME``
    builds them (its ``augment`` preset and ``augment_options``, for its dataset's images).

    A preset with one view distribution serves both views: the list then holds the same augmenter twice (each call
    draws new views). The recipe's ``normalize`` setting is not among them: ``kspectral train`` puts it in the
    encoder, so that every image the encoder sees is normalised alike.

    Args:
        name: a shipped recipe's name (``kspectral recipes`` lists them) or a recipe file.
        image_size: the images' side or ``(height, width)`` (default: the recipe's ``image_size``, else its
            dataset's own; needed for datasets without a known size, e.g. a folder).
        seed: the augmenters' seed (default: the recipe's ``seed``, so the views are the run's).

    Returns:
        ``list`` of ``keras.Sequential`` augmenters, at least two.

    Raises:
        ValueError: the recipe trains on graph pairs (no augmentations), or its dataset's image size is unknown and
            ``image_size`` is not given.

    Example:
        >>> views = recipe_augmenters("barlow_twins_resnet18_bs256-1000e_cifar10")
        >>> len(views), views[0] is views[1]
        (2, False)
    """
    from kspectral.data.datasets import IMAGE_SHAPES, augmenter_for, default_augment
    from kspectral.recipes import find_recipe, load_recipe

    path = find_recipe(name)
    fields = load_recipe(path)
    pairs = fields.get("pairs", "augment")
    if pairs != "augment":
        raise InputError(f"recipe {path.stem} trains on {pairs} pairs (edges of a graph), which augment nothing")
    dataset = fields.get("dataset", "digits")
    size = check_image_size(image_size if image_size is not None else fields.get("image_size"))
    known = IMAGE_SHAPES.get(dataset)
    if known is None and size is None:
        raise InputError(f"recipe {path.stem} trains on {dataset!r}, whose image size is not known before it is "
                         "loaded; pass image_size=...")
    channels = known[2] if known is not None else 3
    shape = (*(size if size is not None else known[:2]), channels)
    preset = fields.get("augment") or default_augment(shape)
    views = augmenter_for(shape, preset, fields.get("augment_options"),
                          seed=int(fields.get("seed", 0)) if seed is None else seed)
    return list(views) if isinstance(views, (list, tuple)) else [views, views]
