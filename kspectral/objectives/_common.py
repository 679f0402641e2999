"""Private helpers of the objectives: input checks, hyper-parameter checks and the Keras loss base class.

Public helpers live in :mod:`kspectral.objectives.tensors` (dtype policy, guarded normalisation) and
:mod:`kspectral.objectives.views` (the view-major layout).
"""

from __future__ import annotations

import inspect
import numbers

import keras
import numpy as np
from keras import ops

from kspectral import _validation
from kspectral.objectives.tensors import as_float, dtype_name
from kspectral.errors import InputError


def tensorflow_module():
    """The ``tensorflow`` module when Keras runs on it, else ``None`` (runtime checks are TF-only)."""
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    return tf


def _eager():
    tf = tensorflow_module()
    return tf is not None and tf.executing_eagerly()


def check_embeddings(z, name="z", min_batch=2):
    """Check that ``z`` is a ``(batch, dim)`` matrix with at least ``min_batch`` rows (when static)."""
    shape = tuple(z.shape)
    if len(shape) != 2:
        raise InputError(
            f"{name} must be a batch-first (batch, dim) matrix, got shape {shape}; "
            "flatten or pool the encoder output first"
        )
    batch = shape[0]
    if batch is not None and batch < min_batch:
        raise InputError(f"{name} has batch size {batch}; this objective needs at least {min_batch} samples")
    tf = tensorflow_module()
    if batch is None and tf is not None:  # dynamic batch (inside fit): check when the graph runs
        tf.debugging.assert_greater_equal(
            tf.shape(z)[0], min_batch, message=f"{name}: this objective needs at least {min_batch} samples per batch"
        )
    if _eager() and not bool(ops.all(ops.isfinite(z))):
        raise InputError(f"{name} contains NaN or infinite values")
    return z


def check_pair(z_a, z_b, names=("z_a", "z_b"), min_batch=2):
    """Check two views: both ``(batch, dim)``, same shape; return them as float tensors."""
    z_a, z_b = as_float(z_a), as_float(z_b)
    check_embeddings(z_a, names[0], min_batch)
    check_embeddings(z_b, names[1], min_batch)
    sa, sb = tuple(z_a.shape), tuple(z_b.shape)
    if all(d is not None for d in sa + sb) and sa != sb:
        raise InputError(f"{names[0]} and {names[1]} must have the same shape, got {sa} and {sb}")
    if dtype_name(z_a) != dtype_name(z_b):
        z_a, z_b = ops.cast(z_a, "float32"), ops.cast(z_b, "float32")
    return z_a, z_b


def _is_tensor(value):
    """A tensor or variable (its value may be unknown while a graph is traced), not a Python/numpy number."""
    if isinstance(value, (numbers.Number, np.ndarray, np.generic, str, bytes)):
        return False
    return hasattr(value, "dtype") and hasattr(value, "shape")


def _number(value):
    return value.item() if isinstance(value, np.ndarray) and value.ndim == 0 else value


def check_positive(value, name):
    """``value`` as a finite float > 0 (:func:`kspectral._validation.check_positive`); tensors pass unchecked."""
    return value if _is_tensor(value) else _validation.check_positive(_number(value), name)


def check_nonnegative(value, name):
    """``value`` as a finite float ≥ 0 (:func:`kspectral._validation.check_nonnegative`); tensors pass unchecked."""
    return value if _is_tensor(value) else _validation.check_nonnegative(_number(value), name)


def check_choice(value, name, choices):
    """``value`` if it is one of ``choices``, else a ``ValueError`` listing them."""
    if not isinstance(value, str) or value not in choices:
        raise InputError(f"{name} must be one of {', '.join(repr(c) for c in choices)}; got {value!r}")
    return value


def loss_or_terms(loss, terms, return_terms):
    """``loss``, or ``{"loss": loss, **terms}`` when ``return_terms`` (the objectives' return convention)."""
    return {"loss": loss, **terms} if return_terms else loss


class ObjectiveLoss(keras.losses.Loss):
    """A Keras loss defined by a pure objective function and its hyper-parameters.

    The objectives are statistics of a whole batch (variances, covariances, softmaxes over the other samples), so
    a call returns **one scalar per batch**: there is no per-sample loss to weight or reduce, hence no
    ``reduction`` argument and no ``sample_weight``. The computation dtype follows the inputs (float32, or float64
    for float64 inputs; half precision is computed in float32), or ``dtype`` when one is given: the inputs are
    cast to it first.

    Subclasses set :attr:`objective` (a function of the two inputs and keyword hyper-parameters) and call
    ``super().__init__(name, dtype, **hyper_parameters)``; the hyper-parameters become attributes, are passed to
    the function on every call and are saved by :meth:`get_config`.
    """

    objective = None

    def __init__(self, name, dtype=None, **hyper_parameters):
        super().__init__(name=name, reduction=None, dtype=dtype)
        self._requested_dtype = None if dtype is None else keras.backend.standardize_dtype(dtype)
        self._hyper_parameters = dict(hyper_parameters)
        for key, value in self._hyper_parameters.items():
            setattr(self, key, value)

    @property
    def dtype(self):
        """The dtype the inputs are cast to, or ``None``: computed in the inputs' own float dtype."""
        return self._requested_dtype

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise InputError(
                f"{type(self).__name__} returns one value per batch (the objective is a batch statistic), so it "
                "takes no sample_weight; drop it, or weight the pairs by sampling them"
            )
        if self._requested_dtype is not None:
            y_true = ops.cast(ops.convert_to_tensor(y_true), self._requested_dtype)
            y_pred = ops.cast(ops.convert_to_tensor(y_pred), self._requested_dtype)
        with keras.name_scope(self.name):
            return self.call(y_true, y_pred)

    def call(self, y_true, y_pred):
        return type(self).objective(y_true, y_pred, **self._hyper_parameters)

    def get_config(self):
        return {"name": self.name, "dtype": self._requested_dtype, **self._hyper_parameters}


class SignatureLoss(ObjectiveLoss):
    """An :class:`ObjectiveLoss` whose hyper-parameters are the keyword arguments of its objective function, with
    that function's defaults (so each default is written once, in the function's signature).

    Subclasses set :attr:`objective`, :attr:`default_name` and the names of the hyper-parameters checked when the
    loss is built: :attr:`nonnegative` (≥ 0), :attr:`positive` (> 0) and :attr:`flags` (made ``bool``).
    ``LossClass(name=None, dtype=None, **hyper_parameters)``; an unknown hyper-parameter is an ``InputError``.
    """

    default_name = None
    nonnegative = ()
    positive = ()
    flags = ()

    def __init__(self, name=None, dtype=None, **hyper_parameters):
        parameters = inspect.signature(type(self).objective).parameters.values()
        defaults = {p.name: p.default for p in parameters if p.default is not p.empty and p.name != "return_terms"}
        unknown = sorted(set(hyper_parameters) - set(defaults))
        if unknown:
            raise InputError(f"{type(self).__name__} takes no {', '.join(unknown)}; its hyper-parameters are "
                             f"{', '.join(defaults)}")
        values = {**defaults, **hyper_parameters}
        for key in self.nonnegative:
            values[key] = check_nonnegative(values[key], key)
        for key in self.positive:
            values[key] = check_positive(values[key], key)
        for key in self.flags:
            values[key] = bool(values[key])
        super().__init__(name or self.default_name, dtype, **values)
