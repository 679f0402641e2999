"""Training recipes shipped with kspectral (``kspectral recipes`` lists them).

A recipe is a TOML file whose keys are :class:`kspectral.runs.RunConfig` fields, at top level or under
``[train]``. File names follow ``{method}_{encoder}_bs{batch}-{epochs}e_{dataset}.toml``.
"""

from __future__ import annotations

from pathlib import Path

RECIPE_DIR = Path(__file__).resolve().parent


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
