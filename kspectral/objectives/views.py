"""The view-major layout of two views: ``[view_a; view_b]``, ``2B`` rows, row ``k`` and row ``k + B`` a pair.

Methods that send both views through the network as one batch (SimCLR, CISSL, DISSL) and the Keras losses that
take both views in one tensor (:class:`~kspectral.objectives.CISSLLoss`, :class:`~kspectral.objectives.DISSLLoss`)
use this layout.
"""

from __future__ import annotations

from keras import ops

from kspectral.objectives._common import check_embeddings, tensorflow_module


def split_views(z, name="z"):
    """Split a view-major ``(2B, dim)`` matrix into its two ``(B, dim)`` views (the first and second halves).

    The dtype is kept. An odd number of rows is an error, also when the batch size is only known at run time.

    Example:
        >>> import numpy as np
        >>> a, b = split_views(np.arange(8.0).reshape(4, 2))
        >>> np.asarray(b).tolist()
        [[4.0, 5.0], [6.0, 7.0]]
    """
    z = ops.convert_to_tensor(z)
    check_embeddings(z, name, min_batch=2)
    rows = z.shape[0]
    message = f"{name} must stack the two views' rows view-major (2B rows), got an odd number"
    if rows is not None and rows % 2:
        raise ValueError(f"{message} ({rows})")
    tf = tensorflow_module()
    if rows is None and tf is not None:
        tf.debugging.assert_equal(tf.shape(z)[0] % 2, 0, message=message)
    half = ops.shape(z)[0] // 2
    return z[:half], z[half:]


def join_views(view_a, view_b, names=("view_a", "view_b")):
    """``concat([view_a, view_b])``, the view-major batch, after checking that the views have one batch size.

    Example:
        >>> import numpy as np
        >>> tuple(join_views(np.zeros((3, 2)), np.ones((3, 2))).shape)
        (6, 2)
    """
    view_a, view_b = ops.convert_to_tensor(view_a), ops.convert_to_tensor(view_b)
    a, b = view_a.shape[0], view_b.shape[0]
    message = f"{names[0]} and {names[1]} must have the same batch size (one pair per row)"
    if a is not None and b is not None and a != b:
        raise ValueError(f"{message}, got {a} and {b}")
    tf = tensorflow_module()
    if (a is None or b is None) and tf is not None:
        tf.debugging.assert_equal(tf.shape(view_a)[0], tf.shape(view_b)[0], message=message)
    return ops.concatenate([view_a, view_b], axis=0)


__all__ = ["join_views", "split_views"]
