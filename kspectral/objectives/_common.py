"""Helpers shared by the objectives: dtype policy and shape checks.

Every objective computes in float32, or in float64 when its input already is float64, whatever the layers'
compute dtype (float16 / bfloat16 under mixed precision): the statistics the losses take (variances,
covariances, log-sum-exps) lose too much precision in half precision.
"""

from __future__ import annotations

import keras
from keras import ops


def as_float(z):
    """Return ``z`` as a float32 tensor, or keep it float64."""
    z = ops.convert_to_tensor(z)
    if dtype_name(z) == "float64":
        return z
    return ops.cast(z, "float32")


def dtype_name(z):
    """The standard name (``"float32"``, ...) of a tensor's dtype, whatever the backend."""
    return keras.backend.standardize_dtype(z.dtype)


def check_embeddings(z, name="z", min_batch=2):
    """Check that ``z`` is a ``(batch, dim)`` matrix with at least ``min_batch`` rows (when static)."""
    shape = tuple(z.shape)
    if len(shape) != 2:
        raise ValueError(
            f"{name} must be a batch-first (batch, dim) matrix, got shape {shape}; "
            "flatten or pool the encoder output first"
        )
    batch = shape[0]
    if batch is not None and batch < min_batch:
        raise ValueError(f"{name} has batch size {batch}; this objective needs at least {min_batch} samples")
    return z


def check_pair(z_a, z_b, names=("z_a", "z_b"), min_batch=2):
    """Check two views: both ``(batch, dim)``, same shape; return them as float tensors."""
    z_a, z_b = as_float(z_a), as_float(z_b)
    check_embeddings(z_a, names[0], min_batch)
    check_embeddings(z_b, names[1], min_batch)
    sa, sb = tuple(z_a.shape), tuple(z_b.shape)
    if all(d is not None for d in sa + sb) and sa != sb:
        raise ValueError(f"{names[0]} and {names[1]} must have the same shape, got {sa} and {sb}")
    if dtype_name(z_a) != dtype_name(z_b):
        z_a, z_b = ops.cast(z_a, "float32"), ops.cast(z_b, "float32")
    return z_a, z_b


def off_diagonal_square_sum(m):
    """Sum of the squared off-diagonal entries of a square matrix."""
    return ops.sum(ops.square(m)) - ops.sum(ops.square(ops.diagonal(m)))


def batch_size(z):
    """Number of rows of ``z`` as a float scalar of ``z``'s dtype (works with dynamic shapes)."""
    return ops.cast(ops.shape(z)[0], z.dtype)
