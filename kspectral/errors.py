"""The two kinds of failure kspectral reports: what the user gave it wrong, and everything else.

:class:`InputError` is raised for bad input — a wrong value, an unknown name, a file that is not what it should be,
data of the wrong shape — and its message names the problem and the fix. It is a ``ValueError`` (and
:class:`InputTypeError` a ``TypeError``), so code that catches those keeps working. The command line prints an input
error as one line and exits with code 2; any other exception is a bug in kspectral (or its environment), printed as
one "internal error" line with exit code 1, and ``kspectral --debug`` shows its traceback.
"""

from __future__ import annotations


class InputError(ValueError):
    """A bad input, with a message that names the problem and the fix (the CLI exits with code 2)."""


class InputTypeError(InputError, TypeError):
    """A bad input of the wrong kind (e.g. a string where a Keras layer is expected)."""


__all__ = ["InputError", "InputTypeError"]
