"""Method registry: ``kspectral.methods.get("vicreg")`` and ``kspectral train --method vicreg``."""

from __future__ import annotations

_METHODS: dict = {}


def register(name):
    """Class decorator registering an :class:`~kspectral.methods.SSLModel` subclass under ``name``."""

    def decorator(cls):
        if name in _METHODS and _METHODS[name] is not cls:
            raise ValueError(f"a method named {name!r} is already registered ({_METHODS[name].__name__})")
        cls.registry_name = name
        _METHODS[name] = cls
        return cls

    return decorator


def names():
    """Registered method names, sorted."""
    return sorted(_METHODS)


def get(name):
    """The method class registered under ``name``.

    Raises:
        ValueError: unknown name; the message lists the registered ones.
    """
    if not isinstance(name, str) or name not in _METHODS:
        raise ValueError(f"unknown method {name!r}; choose one of: {', '.join(names())}")
    return _METHODS[name]
