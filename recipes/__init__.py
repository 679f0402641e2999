"""Training recipes shipped with kspectral (``kspectral recipes`` lists them).

A recipe is a TOML file whose keys are :class:`kspectral.runs.RunConfig` fields, at top level or under
``[train]`` (method options under ``[train.method_options]``). File names follow
``{method}_{encoder}_bs{batch}-{epochs}e_{dataset}.toml`` (the MMSelfSup convention), e.g.
``vicreg_resnet18_bs256-1000e_cifar10.toml``; the comment at the top of each file names the published number the
recipe aims at, or says that there is none.
"""

from __future__ import annotations

import re
from pathlib import Path

from kspectral.errors import InputError

RECIPE_DIR = Path(__file__).resolve().parent

#: ``{method}_{encoder}_bs{batch}-{epochs}e_{dataset}``: method and dataset may contain ``_``, the encoder may not.
RECIPE_NAME = re.compile(
    r"(?P<method>[a-z][a-z0-9_]*?)_(?P<encoder>[a-z][a-z0-9]*)_bs(?P<batch_size>\d+)-(?P<epochs>\d+)e_"
    r"(?P<dataset>[a-z][a-z0-9_]*)"
)


def list_recipes():
    """Paths of the shipped recipes, sorted by name."""
    return sorted(RECIPE_DIR.glob("*.toml"))


def find_recipe(name_or_path):
    """A recipe by file path, or by the name of a shipped recipe (with or without ``.toml``)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    stem = path.name[:-5] if path.name.endswith(".toml") else path.name
    for candidate in list_recipes():
        if candidate.stem == stem:
            return candidate
    names = ", ".join(p.stem for p in list_recipes())
    raise FileNotFoundError(f"no recipe file or shipped recipe named {name_or_path!r}; shipped recipes: {names}")


def read_recipe_text(path):
    """The text of a recipe file, or a ``ValueError`` naming the file when it is not UTF-8 text."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"recipe {path} is not UTF-8 text (byte {exc.start}: {exc.reason}); save it as "
                         "UTF-8") from None


def parse_recipe_name(name):
    """The fields a recipe's file name states: method, encoder, batch size, epochs and dataset.

    Example:
        >>> parse_recipe_name("barlow_twins_resnet18_bs256-1000e_cifar10.toml")
        {'method': 'barlow_twins', 'encoder': 'resnet18', 'batch_size': 256, 'epochs': 1000, 'dataset': 'cifar10'}

    Raises:
        ValueError: the name does not follow ``{method}_{encoder}_bs{batch}-{epochs}e_{dataset}``.
    """
    stem = Path(name).name
    stem = stem[:-5] if stem.endswith(".toml") else stem
    match = RECIPE_NAME.fullmatch(stem)
    if match is None:
        raise InputError(f"recipe name {stem!r} does not follow {{method}}_{{encoder}}_bs{{batch}}-{{epochs}}e_"
                         "{dataset}, e.g. vicreg_resnet18_bs256-1000e_cifar10")
    fields = match.groupdict()
    return {**fields, "batch_size": int(fields["batch_size"]), "epochs": int(fields["epochs"])}


def recipe_summary(name_or_path):
    """The comment at the top of a recipe (what it trains, the number it aims at, its sources), without ``#``.

    Example:
        >>> recipe_summary("vicreg_resnet18_bs256-1000e_cifar10").splitlines()[1][:30]
        'Aims at 92.07 % online linear '
    """
    lines = []
    for line in read_recipe_text(find_recipe(name_or_path)).splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:].strip())
    return "\n".join(lines)


def load_recipe(name_or_path):
    """The fields of a recipe (a TOML file, or a shipped recipe's name) as a dict.

    A recipe's keys are :class:`kspectral.runs.RunConfig` fields, at top level or under ``[train]`` (not both).
    Recipes are data:
    they are parsed as TOML (``tomllib``), never evaluated, so a string that holds Python code stays a string; and
    no field is an output path (only ``kspectral train --out`` chooses where a run writes).

    Raises:
        FileNotFoundError: no such file or shipped recipe (the message lists the shipped ones).
        ValueError: the file is not UTF-8 TOML, or mixes top-level fields with a ``[train]`` table (the message
            names the file).
    """
    import tomllib

    path = find_recipe(name_or_path)
    text = read_recipe_text(path)
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"recipe {path} is not valid TOML ({exc}); fix that line") from None
    if "train" not in values:
        return values
    others = sorted(k for k in values if k != "train")
    if others:
        raise InputError(f"recipe {path} has keys outside its [train] table ({', '.join(others)}); move them under "
                         "[train]")
    return values["train"]
