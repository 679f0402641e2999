"""Helpers shared by the objectives: dtype policy and shape checks.

Every objective computes in float32, or in float64 when its input already is float64, whatever the layers'
compute dtype (float16 / bfloat16 under mixed precision): the statistics the losses take (variances,
covariances, log-sum-exps) lose too much precision in half precision.
"""

from __future__ import annotations

import keras
from keras import ops


def as_float(z):
    """Return ``z`` as a float32 tensor, or keep it float64; reject non-numeric input."""
    z = ops.convert_to_tensor(z)
    name = dtype_name(z)
    if name == "float64":
        return z
    if not (name.startswith(("float", "bfloat", "int", "uint"))):
        raise TypeError(f"embeddings must be numeric tensors, got dtype {name}")
    return ops.cast(z, "float32")


def _tensorflow():
    """The ``tensorflow`` module when Keras runs on it, else ``None`` (runtime checks are TF-only)."""
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    return tf


def _eager():
    tf = _tensorflow()
    return tf is not None and tf.executing_eagerly()


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
    tf = _tensorflow()
    if batch is None and tf is not None:  # dynamic batch (inside fit): check when the graph runs
        tf.debugging.assert_greater_equal(
            tf.shape(z)[0], min_batch, message=f"{name}: this objective needs at least {min_batch} samples per batch"
        )
    if _eager() and not bool(ops.all(ops.isfinite(z))):
        raise ValueError(f"{name} contains NaN or infinite values")
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


def check_positive(value, name):
    """``value`` as a positive finite float; tensors pass through unchecked (their value is not known here)."""
    if hasattr(value, "shape") and getattr(value, "shape", ()) != ():
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        if hasattr(value, "dtype"):
            return value
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not number > 0.0 or number == float("inf"):
        raise ValueError(f"{name} must be a positive finite number, got {value}")
    return number


def check_nonnegative(value, name):
    """``value`` as a finite float ≥ 0 (loss weights), or a clear ``ValueError``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a non-negative number, got {value!r}") from None
    if not 0.0 <= number < float("inf"):
        raise ValueError(f"{name} must be a non-negative finite number, got {value}")
    return number


def l2_normalize(z, axis=-1, epsilon=1e-12):
    """Guarded L2 normalisation ``z / max(‖z‖, √epsilon)`` along ``axis``: finite, with finite gradients, at 0."""
    squared = ops.sum(ops.square(z), axis=axis, keepdims=True)
    return z * ops.rsqrt(ops.maximum(squared, epsilon))


def split_views(z, name="z"):
    """Split a view-major ``(2B, dim)`` matrix (view 1's ``B`` rows, then view 2's) into its two ``(B, dim)`` views.

    The dtype is kept. An odd number of rows is an error, also when the batch size is only known at run time.
    """
    z = ops.convert_to_tensor(z)
    check_embeddings(z, name, min_batch=2)
    rows = z.shape[0]
    message = f"{name} must stack the two views' rows view-major (2B rows), got an odd number"
    if rows is not None and rows % 2:
        raise ValueError(f"{message} ({rows})")
    tf = _tensorflow()
    if rows is None and tf is not None:
        tf.debugging.assert_equal(tf.shape(z)[0] % 2, 0, message=message)
    half = ops.shape(z)[0] // 2
    return z[:half], z[half:]


def join_views(view_a, view_b, names=("view_a", "view_b")):
    """``concat([view_a, view_b])`` after checking that the two views have the same batch size."""
    view_a, view_b = ops.convert_to_tensor(view_a), ops.convert_to_tensor(view_b)
    a, b = view_a.shape[0], view_b.shape[0]
    message = f"{names[0]} and {names[1]} must have the same batch size (one pair per row)"
    if a is not None and b is not None and a != b:
        raise ValueError(f"{message}, got {a} and {b}")
    tf = _tensorflow()
    if (a is None or b is None) and tf is not None:
        tf.debugging.assert_equal(tf.shape(view_a)[0], tf.shape(view_b)[0], message=message)
    return ops.concatenate([view_a, view_b], axis=0)


class ObjectiveLoss(keras.losses.Loss):
    """A Keras loss defined by a pure objective function and its hyper-parameters.

    Subclasses set :attr:`objective` (a function of the two inputs and keyword hyper-parameters) and call
    ``super().__init__(name, reduction, dtype, **hyper_parameters)``; the hyper-parameters become attributes,
    are passed to the function on every call and are saved by :meth:`get_config`.
    """

    objective = None

    def __init__(self, name, reduction="sum_over_batch_size", dtype=None, **hyper_parameters):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self._hyper_parameters = dict(hyper_parameters)
        for key, value in self._hyper_parameters.items():
            setattr(self, key, value)

    def call(self, y_true, y_pred):
        return type(self).objective(y_true, y_pred, **self._hyper_parameters)

    def get_config(self):
        return {**super().get_config(), **self._hyper_parameters}
