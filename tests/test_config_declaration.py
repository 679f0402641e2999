"""RunConfig is declared once (kspectral.config): the CLI's flags, their shown defaults and allowed values, the
validation and the registries of each kind read that declaration, so they cannot disagree."""

import dataclasses

import pytest

import kspectral_cli.main as cli
from kspectral import catalog, config, distribute, probes
from kspectral.config import SECTIONS, RunConfig, default_text, field_named, help_text
from kspectral.errors import InputError

METADATA_KEYS = {"section", "help", "flag", "choices", "unset", "switch"}


def _command(name):
    return cli.typer.main.get_command(cli.app).commands[name]


def _options(name):
    return {p.name: p for p in _command(name).params}


@pytest.mark.parametrize("f", dataclasses.fields(RunConfig), ids=lambda f: f.name)
def test_every_field_is_declared_with_a_section_and_help(f):
    """A field added as ``name: int = 3`` (no _field metadata) fails here."""
    assert set(f.metadata) == METADATA_KEYS
    assert f.metadata["section"] in SECTIONS and f.metadata["help"].endswith(".")
    if f.default is None:
        assert f.metadata["unset"], f"{f.name}: say what None means"


def test_every_flagged_field_is_a_train_option_with_the_fields_default_and_choices():
    options = _options("train")
    flagged = [f for f in dataclasses.fields(RunConfig) if f.metadata["flag"] is not None]
    assert len(flagged) == 24 and {"epochs", "learning_rate", "jit", "deterministic"} <= {f.name for f in flagged}
    for f in flagged:
        option = options[f.name]
        assert option.opts[0] == f.metadata["flag"].split("/")[0], f.name
        assert option.default is None  # not given: the recipe's value or the field's default holds
        if f.default is None:
            shown = f.metadata["unset"]
        else:
            shown = ("on" if f.default else "off") if isinstance(f.default, bool) else str(f.default)
        assert option.show_default == default_text(f) == shown, f.name
        assert option.help == help_text(f)
        for choice in f.metadata["choices"] or ():
            assert choice in option.help, (f.name, choice)
        assert option.rich_help_panel == f.metadata["section"].capitalize()
    assert options["learning_rate"].show_default == "0.002" and options["batch_size"].show_default == "256"
    assert options["projector"].show_default == config.DEFAULT_PROJECTOR
    assert options["jit"].secondary_opts == ["--no-jit"]
    unflagged = {name for name, _ in cli._fields_without_flag()}
    assert unflagged == {f.name for f in dataclasses.fields(RunConfig)} - {f.name for f in flagged}
    assert set(options) == {f.name for f in flagged} | {"out", "recipe", "settings"}


def test_train_passes_the_given_flags_to_the_config(monkeypatch):
    from kspectral import runs

    seen = {}

    def resolve(recipe, settings, **fields):
        seen.update(fields, recipe=recipe, settings=list(settings))
        raise InputError("stop here")

    monkeypatch.setattr(runs, "resolve_config", resolve)
    with pytest.raises(SystemExit):
        cli.main(["train", "--epochs", "3", "--no-jit", "--deterministic", "--optimizer", "lars", "--set", "seed=4"])
    assert seen.pop("settings") == ["seed=4"] and seen.pop("recipe") is None
    given = {k: v for k, v in seen.items() if v is not None}
    assert given == {"epochs": 3, "jit": "off", "deterministic": True, "optimizer": "lars"}
    assert set(seen) == {f.name for f in dataclasses.fields(RunConfig) if f.metadata["flag"] is not None}


def test_shared_options_of_other_commands_read_the_same_declaration():
    for command, names in (("spectral", ("dataset", "data_dir", "image_size", "test_size", "augment", "seed",
                                         "knn_preset")),
                           ("augment", ("dataset", "data_dir", "image_size")), ("probe", ("knn_preset",))):
        options = _options(command)
        for name in names:
            f = field_named(name)
            assert options[name].opts == [f.metadata["flag"] or "--" + name.replace("_", "-")], (command, name)
            assert options[name].help == help_text(f), (command, name)
    assert _options("spectral")["seed"].show_default == "0" == str(field_named("seed").default)
    assert _options("augment")["seed"].default == RunConfig().seed


def test_choices_are_the_tuples_that_validation_and_the_registries_use():
    from kspectral import data, encoders, optimizers

    assert field_named("optimizer").metadata["choices"] is optimizers.OPTIMIZERS is catalog.OPTIMIZERS
    assert field_named("stem").metadata["choices"] is encoders.STEMS is catalog.STEMS
    assert field_named("strategy").metadata["choices"] is distribute.STRATEGIES
    assert probes.KNN_PRESETS is catalog.KNN_PRESETS and config.KNN_PRESETS == ("dino", "instdisc")
    assert tuple(data.AUGMENTERS) == field_named("augment").metadata["choices"] == catalog.AUGMENTERS
    assert tuple(encoders.ENCODERS) == field_named("encoder").metadata["choices"] == catalog.ENCODERS
    with pytest.raises(InputError, match="unknown stem 'big'; choose one of: auto, cifar, cifar_pad2, imagenet$"):
        RunConfig(stem="big").validate()
    with pytest.raises(InputError, match="unknown encoder 'resnet9'; choose one of: mlp, conv, resnet18, resnet34, "
                                         "resnet50, or keras:NAME"):
        RunConfig(encoder="resnet9").validate()


def test_a_registry_that_drifts_from_the_catalogue_is_an_error():
    catalog.check_registry("optimizer", dict.fromkeys(catalog.OPTIMIZERS), catalog.OPTIMIZERS)
    with pytest.raises(RuntimeError, match="the optimizer registry .* differs from kspectral.catalog's"):
        catalog.check_registry("optimizer", {"sgd": None}, catalog.OPTIMIZERS)


def test_field_types_come_from_the_annotations():
    assert config.FIELD_TYPES["data_dir"] == (str, type(None)) and config.FIELD_TYPES["epochs"] is int
    assert config.FIELD_TYPES["classifier_lr"] == (float, type(None)) and config.FIELD_TYPES["method_options"] is dict
    assert set(config.FIELD_TYPES) == {f.name for f in dataclasses.fields(RunConfig)}
