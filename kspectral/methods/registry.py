"""Method registry: ``kspectral.methods.get("vicreg")``, ``create("simclr_abs", encoder)`` and ``--method NAME``.

Each method class is registered under its canonical name (:data:`kspectral.catalog.METHODS`); the aliases of
:data:`kspectral.catalog.ALIASES` resolve to a canonical class plus options (``simclr_abs`` is
``SimCLR(negatives="abs")``).
"""

from __future__ import annotations

from kspectral import catalog
from kspectral.errors import InputError

_METHODS: dict = {}


def register(name, description=None):
    """Class decorator registering an :class:`~kspectral.methods.SSLModel` subclass under its canonical ``name``.

    kspectral's own methods are keys of :data:`kspectral.catalog.METHODS` (the TF-free catalogue lists every
    method). A user's method gives a one-line ``description`` as well and is added to the catalogue, so that
    ``kspectral methods``, :func:`get` and a run's ``method = name`` (``kspectral.runs.train``, or the CLI in a
    process that imported the method's module) know it.

    Example:
        >>> @register("my_vicreg", description="VICReg with my projector")  # doctest: +SKIP
        ... class MyVICReg(VICReg): ...
    """

    def decorator(cls):
        if name not in catalog.METHODS:
            if description is None:
                raise InputError(f"method {name!r} is not in kspectral.catalog.METHODS; register a method of your own "
                                 f"with register({name!r}, description='one line on its loss')")
            catalog.METHODS[name] = catalog.MethodEntry(cls.__name__, str(description))
        if name in _METHODS and _METHODS[name] is not cls:
            raise InputError(f"a method named {name!r} is already registered ({_METHODS[name].__name__})")
        cls.registry_name = name
        _METHODS[name] = cls
        return cls

    return decorator


def canonical_names():
    """The canonical method names, sorted (one per class)."""
    return sorted(_METHODS)


def names(aliases=True):
    """The method names :func:`get` accepts, sorted: canonical names, and the aliases unless ``aliases=False``."""
    return sorted([*_METHODS, *catalog.ALIASES]) if aliases else canonical_names()


def resolve(name):
    """``(cls, alias_options)``: the class of a method name or alias and the options the alias sets.

    Example:
        >>> from kspectral import methods
        >>> methods.resolve("simclr_abs")
        (<class 'kspectral.methods.simclr.SimCLR'>, {'negatives': 'abs'})

    Raises:
        ValueError: unknown name; the message lists the known ones.
    """
    if not (isinstance(name, str) and (name in _METHODS or name in catalog.ALIASES)):
        raise InputError(f"unknown method {name!r}; choose one of: {', '.join(names())}")
    canonical, options = catalog.resolve_name(name)
    return _METHODS[canonical], options


def get(name):
    """The method class registered under ``name``; an alias gives its canonical class (options: :func:`resolve`).

    Raises:
        ValueError: unknown name; the message lists the known ones.
    """
    return resolve(name)[0]


def create(name, encoder, **options):
    """Build the method ``name`` (a canonical name or an alias) on ``encoder``: ``cls(encoder, **alias_options,
    **options)``.

    Example:
        >>> import keras
        >>> from kspectral import methods
        >>> encoder = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)])
        >>> methods.create("simclr_sq", encoder, projector="8-8").negatives
        'sq'

    Raises:
        ValueError: unknown name, or an option that contradicts the alias (e.g. ``create("simclr_abs", encoder,
            negatives="sq")``).
    """
    cls, alias_options = resolve(name)
    for key, value in options.items():
        if key in alias_options and alias_options[key] != value:
            raise InputError(
                f"method {name!r} means {key}={alias_options[key]!r}, which conflicts with {key}={value!r}; "
                f"use method {cls.registry_name!r} with {key}={value!r}, or drop the option"
            )
    return cls(encoder=encoder, **{**alias_options, **options})


__all__ = ["canonical_names", "create", "get", "names", "register", "resolve"]


def multiview_names():
    """The canonical names of the methods that train on more than two views (multi-crop), sorted."""
    return [n for n in canonical_names() if get(n).view_limit() is None]
