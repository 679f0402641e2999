"""Tensor helpers shared by the objectives and the batch diagnostics (``keras.ops``, any backend).

Every objective computes in float32, or in float64 when its input already is float64, whatever the layers'
compute dtype (float16 / bfloat16 under mixed precision): the statistics the losses take (variances, covariances,
log-sum-exps) lose too much precision in half precision. :func:`as_float` applies that policy.
"""

from __future__ import annotations

import keras
from keras import ops


def dtype_name(z):
    """The standard name (``"float32"``, ...) of a tensor's dtype, whatever the backend."""
    return keras.backend.standardize_dtype(z.dtype)


def as_float(z):
    """``z`` as a float32 tensor, or kept float64; non-numeric input raises ``TypeError``.

    Example:
        >>> import numpy as np
        >>> dtype_name(as_float(np.ones(2, "float16")))
        'float32'
    """
    z = ops.convert_to_tensor(z)
    name = dtype_name(z)
    if name == "float64":
        return z
    if not name.startswith(("float", "bfloat", "int", "uint")):
        raise TypeError(f"embeddings must be numeric tensors, got dtype {name}")
    return ops.cast(z, "float32")


def l2_normalize(z, axis=-1, epsilon=1e-12):
    """Guarded L2 normalisation ``z / max(‖z‖, √epsilon)`` along ``axis``: finite, with finite gradients, at 0."""
    squared = ops.sum(ops.square(z), axis=axis, keepdims=True)
    return z * ops.rsqrt(ops.maximum(squared, epsilon))


def off_diagonal_square_sum(m):
    """Sum of the squared off-diagonal entries of a square matrix."""
    return ops.sum(ops.square(m)) - ops.sum(ops.square(ops.diagonal(m)))


def batch_size(z):
    """Number of rows of ``z`` as a float scalar of ``z``'s dtype (works with dynamic shapes)."""
    return ops.cast(ops.shape(z)[0], z.dtype)


__all__ = ["as_float", "batch_size", "dtype_name", "l2_normalize", "off_diagonal_square_sum"]
