"""Input checks shared by the numpy-side modules (spectral, probes, data).

Every check raises ``ValueError`` (or ``TypeError`` for a wrong kind of object) with a message that names the
argument, what was wrong and how to fix it. The CLI prints these messages as one-line errors.
"""

from __future__ import annotations

import numpy as np
from kspectral.errors import InputError


def check_matrix(X, name="X", *, min_rows=1, min_cols=1, dtype=np.float64, allow_nan=False):
    """Return ``X`` as a 2-D float array, or raise a clear error.

    Args:
        X: array-like of shape ``(n_samples, n_features)``.
        name: the argument's name, used in error messages.
        min_rows, min_cols: the smallest accepted shape.
        dtype: the returned dtype.
        allow_nan: accept NaN/inf entries.
    """
    if hasattr(X, "toarray") and not isinstance(X, np.ndarray):
        raise TypeError(f"{name} must be a dense array, got a sparse {type(X).__name__}; call .toarray() first")
    try:
        arr = np.asarray(X, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array of shape (n_samples, n_features): {exc}") from None
    if arr.ndim != 2:
        raise InputError(
            f"{name} must be 2-D (n_samples, n_features), got shape {arr.shape}; "
            "reshape it, e.g. X.reshape(len(X), -1)"
        )
    if arr.shape[0] < min_rows:
        raise InputError(f"{name} has {arr.shape[0]} rows; at least {min_rows} are needed")
    if arr.shape[1] < min_cols:
        raise InputError(f"{name} has {arr.shape[1]} columns; at least {min_cols} are needed")
    if not allow_nan and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise InputError(f"{name} contains {bad} NaN or infinite values; drop or impute them first")
    return arr


def check_labels(y, name="y", n=None):
    """Return ``y`` as a 1-D array of labels, checking its length against ``n``."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise InputError(f"{name} must be 1-D (one label per sample), got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise InputError(f"{name} has {arr.shape[0]} labels but there are {n} samples; they must match")
    if arr.shape[0] == 0:
        raise InputError(f"{name} is empty; at least one labelled sample is needed")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise InputError(f"{name} contains NaN or infinite labels")
    return arr


def check_positive_int(value, name, *, minimum=1, maximum=None):
    """Return ``value`` as an int in ``[minimum, maximum]`` or raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise InputError(f"{name} must be at least {minimum}{upper}, got {value}")
    return value


def check_random_state(seed):
    """Return a ``numpy.random.Generator`` from ``None``, an int or a Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (int, np.integer)):
        return np.random.default_rng(seed)
    raise TypeError(f"seed must be None, an int or a numpy Generator, got {type(seed).__name__}")


def check_number(value, name, *, minimum=None, strict=False, maximum=None):
    """Return ``value`` as a finite float, or raise a clear error.

    Args:
        value: a Python or numpy number (a bool is refused).
        name: the argument's name, used in error messages.
        minimum: the smallest accepted value (``None``: no lower bound).
        strict: refuse ``value == minimum`` (e.g. ``minimum=0, strict=True`` asks for a positive number).
        maximum: the largest accepted value (``None``: no upper bound).

    Raises:
        TypeError: ``value`` is not a number.
        ValueError: ``value`` is NaN, infinite or out of range.
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    if minimum is not None and minimum == 0:
        need = "positive" if strict else "non-negative"
    elif minimum is not None:
        need = f"{'>' if strict else '≥'} {minimum}"
    else:
        need = None
    if not np.isfinite(number):
        raise InputError(f"{name} must be a finite{' ' + need if need and minimum == 0 else ''} number, got {number}")
    if minimum is not None and (number < minimum or (strict and number == minimum)):
        if minimum == 0:
            raise InputError(f"{name} must be a finite {need} number, got {number}")
        raise InputError(f"{name} must be {need}, got {number}")
    if maximum is not None and number > maximum:
        raise InputError(f"{name} must be at most {maximum}, got {number}")
    return number


def check_nonnegative(value, name):
    """``value`` as a finite float ≥ 0 (loss weights, ridge), or a clear error."""
    return check_number(value, name, minimum=0.0)


def check_positive(value, name):
    """``value`` as a finite float > 0 (temperatures, epsilons, learning rates), or a clear error."""
    return check_number(value, name, minimum=0.0, strict=True)


def parse_widths(spec, what="projector"):
    """Parse ``"512-512-128"`` (or a sequence of ints) into a tuple of positive layer widths.

    Args:
        spec: widths joined by ``-``, or a list/tuple of positive ints.
        what: what the widths describe (``"projector"``, ``"encoder"``), used in error messages.

    Example:
        >>> parse_widths("2048-2048-128")
        (2048, 2048, 128)
    """
    if isinstance(spec, str):
        try:
            widths = tuple(int(p.strip()) for p in spec.split("-"))
        except ValueError:
            widths = ()
    elif isinstance(spec, (list, tuple)):
        widths = tuple(spec)
    else:
        raise TypeError(f"a {what} spec must be a string such as '2048-2048-2048', got {type(spec).__name__}")
    if not widths or not all(isinstance(w, (int, np.integer)) and not isinstance(w, bool) and w > 0 for w in widths):
        raise InputError(
            f"{what} spec {spec!r} is not valid: expected positive layer widths joined by '-', e.g. '2048-2048-2048'"
        )
    return tuple(int(w) for w in widths)


def check_image_size(image_size, name="image_size"):
    """``(height, width)`` from ``None`` (kept), an int side or a pair of ints, or a clear error."""
    if image_size is None:
        return None
    if isinstance(image_size, (tuple, list)):
        if len(image_size) != 2:
            raise InputError(f"{name} must be an int or a pair (height, width), got {image_size!r}")
        return (check_positive_int(image_size[0], f"{name}[0]"), check_positive_int(image_size[1], f"{name}[1]"))
    size = check_positive_int(image_size, name)
    return (size, size)


def check_image_shape(input_shape, what):
    """``input_shape`` as a ``(height, width, channels)`` tuple, or an error naming ``what`` takes images."""
    try:
        shape = tuple(input_shape)
    except TypeError:
        raise TypeError(f"input_shape must be a tuple (height, width, channels), got {input_shape!r}") from None
    if len(shape) != 3:
        raise InputError(
            f"{what} takes images of shape (height, width, channels), got input_shape={shape}; "
            "give grayscale images a channel axis, e.g. (28, 28, 1)"
        )
    return shape
