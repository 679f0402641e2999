"""What a training batch holds: views (or raw images) and optional labels, as ``fit()`` hands them to the step."""

from __future__ import annotations

from kspectral.errors import InputError


def batch_elements(data):
    """The batch as a tuple, without the ``None`` padding Keras adds (``(x, y, sample_weight)``)."""
    if not isinstance(data, (tuple, list)):
        return (data,)
    data = tuple(data)
    while data and data[-1] is None:
        data = data[:-1]
    return data


def is_labels(value):
    """Whether a batch element is a label vector ``(batch,)`` (views and images have more axes)."""
    return value is not None and len(value.shape) == 1


def views_and_labels(data):
    """``(views, y)`` of a batch of ``V ≥ 2`` views optionally followed by labels ``(batch,)`` (``y = None``
    without)."""
    data = batch_elements(data)
    y = None
    if len(data) >= 3 and is_labels(data[-1]):
        data, y = data[:-1], data[-1]
    if len(data) < 2:
        raise InputError(
            "SSL models train on batches of views (view_a, view_b, ...), optionally followed by labels y of shape "
            f"(batch,); got a batch of {len(data)} tensor(s). Build them with kspectral.data.augmented_pairs or "
            "kspectral.data.graph_pairs, or give the model augmenters=... to train on batches of images"
        )
    return tuple(data), y


def images_and_labels(data):
    """``(x, y)`` of a batch of raw images ``x`` or ``(x, y)`` (a model that draws its views itself)."""
    data = batch_elements(data)
    if len(data) not in (1, 2) or (len(data) == 2 and not is_labels(data[1])):
        shapes = ", ".join(str(tuple(getattr(d, "shape", ()))) for d in data)
        raise InputError(
            "this model draws its views itself with its augmenters: fit it on batches of images x or "
            f"(x, y) with labels of shape (batch,), got a batch of {len(data)} tensors of shapes {shapes}; "
            "build them with kspectral.data.pairs.image_batches (or build the model without augmenters to "
            "train on batches of views (view_a, view_b, ...))"
        )
    return data[0], (data[1] if len(data) == 2 else None)
