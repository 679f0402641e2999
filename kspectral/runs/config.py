"""Run configurations from recipes, ``config.json`` and CLI options; :class:`RunConfig` itself is declared in
:mod:`kspectral.config` (its fields, their types, defaults, help, flags and allowed values) and re-exported here.

Three separate steps, in this order:

1. build: :meth:`RunConfig.from_dict` (a recipe, ``config.json`` or CLI options; unknown keys are an error), or
   :func:`resolve_config` (a recipe, then overrides);
2. check: :meth:`RunConfig.validate` raises ``ValueError`` naming the first bad field and its allowed values, and
   changes nothing;
3. fill in: :func:`with_defaults` returns a copy whose method-dependent defaults (the projector) are set.
"""

from __future__ import annotations

import dataclasses

from kspectral.config import (  # noqa: F401  (re-exported: the declaration's names, as before it moved)
    AUGMENT_ON,
    AUTO_BASELINE_MAX_FEATURES,
    BASELINES,
    DEFAULT_PROJECTOR,
    FIELD_TYPES,
    JIT,
    KNN_PRESETS,
    LR_SCALING,
    PAIRS,
    PRECISIONS,
    PROJECTOR_OPTIONS,
    RESUMABLE_CHANGES,
    SCHEDULE_OPTIONS,
    STRATEGIES,
    RunConfig,
    _method_class,
    method_option_names,
)
from kspectral.errors import InputError
from kspectral.recipes import load_recipe  # noqa: F401  (re-exported: runs.load_recipe)


def with_defaults(config):
    """A copy of a validated ``config`` with its method-dependent defaults filled in (the projector)."""
    filled = dataclasses.replace(config, method_options=dict(config.method_options))
    if filled.projector is None and _method_class(filled.method).uses_projector:
        filled.projector = DEFAULT_PROJECTOR
    return filled


def parse_setting(item):
    """``("key", value)`` or ``("table.key", value)`` from a ``--set KEY=VALUE`` string.

    ``VALUE`` is read as a TOML value (``0.3``, ``true``, ``"text"``, ``[1, 2]``); anything that is not one is taken
    as a plain string, so ``--set encoder=resnet18`` needs no quotes. A field that only takes text (e.g.
    ``encoder_widths``) keeps the text as written, so ``--set encoder_widths=16`` is the string ``"16"``. Types are
    checked later, as in a recipe.
    """
    import tomllib

    key, sep, text = str(item).partition("=")
    key = key.strip()
    if not sep or not key:
        raise InputError(f"--set takes KEY=VALUE (e.g. --set learning_rate=0.3), got {item!r}")
    text = text.strip()
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text
    types = FIELD_TYPES.get(key, ())
    types = types if isinstance(types, tuple) else (types,)
    if str in types and not {int, float, bool} & set(types) and not isinstance(value, str):
        value = text
    return key, value


#: the config fields that are tables of options (``--set TABLE.KEY=VALUE``)
TABLES = ("method_options", "augment_options", "optimizer_options", "projector_options", "schedule_options")


def apply_settings(values, settings):
    """Apply ``--set`` strings to a dict of config fields (``table.key`` sets a key of a table field)."""
    values = {k: (dict(v) if isinstance(v, dict) else v) for k, v in values.items()}
    for item in settings:
        key, value = parse_setting(item)
        if "." in key:
            table, _, sub = key.partition(".")
            if table not in TABLES:
                raise InputError(f"--set {key}: only {', '.join(t + '.KEY' for t in TABLES)} take a dotted key")
            values.setdefault(table, {})[sub] = value
        else:
            values[key] = value
    return values


def resolve_config(recipe=None, settings=(), **overrides):
    """A :class:`RunConfig` from an optional recipe, keyword overrides (``None`` ignored) and ``--set`` strings.

    Example:
        >>> resolve_config("vicreg_mlp_bs256-100e_digits", epochs=5, settings=["learning_rate=0.01"]).learning_rate
        0.01
    """
    values = load_recipe(recipe) if recipe else {}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return RunConfig.from_dict(apply_settings(values, settings))
