"""Project layout: the README's two commands, CI, packaging."""

import importlib.metadata
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- commands -->\s*```(?:bash|sh)\n(.*?)```", text, re.S)
    assert block, "README.md must hold the setup commands in a ```bash block after <!-- commands -->"
    return [line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


def test_readme_has_exactly_two_commands_train_and_test():
    commands = readme_commands()
    assert len(commands) == 2
    train, test = commands
    assert "kspectral train" in train and "pip install" in train
    assert "pytest" in test and "pip install" in test


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert readme_commands()[1] in ci


def test_installed_top_level_modules_are_kspectral_only():
    top = importlib.metadata.distribution("kspectral").read_text("top_level.txt").split()
    assert sorted(top) == ["kspectral", "kspectral_cli"]  # never a generic top-level `cli`


def test_dependencies_cover_the_design_card():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[<>=!~;\[ ]", d, maxsplit=1)[0].lower() for d in project["dependencies"]}
    for needed in ("tensorflow", "keras", "tensorflow-datasets", "importlib_resources", "numpy", "scipy",
                   "scikit-learn", "typer", "matplotlib"):
        assert needed in names, needed
    assert all(re.search(r">=\s*\d", d) for d in project["dependencies"]), "every dependency has a lower bound"
    assert any("and-cuda" in d for d in project["optional-dependencies"]["gpu"])
    assert project["scripts"]["kspectral"] == "kspectral_cli.main:main"


def test_layout_of_the_design_card():
    for path in ("pyproject.toml", "README.md", "kspectral", "cli", "recipes", "tests", ".ci/run"):
        assert (ROOT / path).exists(), path


def test_readme_methods_table_is_generated_from_the_baselines_table():
    from kspectral.spectral.baselines import markdown_table

    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- methods-table -->\n(.*?)\n<!-- /methods-table -->", text, re.S)
    assert block, "README.md must hold the methods table between <!-- methods-table --> markers"
    assert block.group(1).strip() == markdown_table().strip()


def test_package_list_covers_every_subpackage():
    """pyproject's explicit package list must name every package folder, or a wheel would miss it."""
    packages = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    for init in (ROOT / "kspectral").rglob("__init__.py"):
        name = ".".join(init.parent.relative_to(ROOT).parts)
        assert name in packages, name
