"""The shipped recipes: they parse, validate, follow the naming convention, carry the anchors' hyper-parameters and
name the number they aim at; and (slow) every one trains 2 steps and probes end to end offline."""

import json
import math
import tomllib

import pytest

from kspectral import runs
from kspectral.recipes import find_recipe, list_recipes, parse_recipe_name, recipe_summary

RECIPES = [p.stem for p in list_recipes()]
DATASETS = ("cifar10", "cifar100", "stl10", "imagenette", "mnist", "fashion_mnist", "digits")
CORE_METHODS = ("vicreg", "simclr", "barlow_twins")

#: solo-learn README, ResNet-18 (CIFAR stem), 1000 epochs, batch 256, online linear top-1 (anchors.md §1.1-1.2)
SOLO_LEARN_TOP1 = {
    "cifar10": {"vicreg": "92.07", "simclr": "90.74", "barlow_twins": "92.10"},
    "cifar100": {"vicreg": "68.54", "simclr": "65.78", "barlow_twins": "70.90"},
}
#: solo-learn 9187ea3 scripts/pretrain/cifar/<method>.yaml (docs/protocols.md §2): LARS base learning rate (per 256
#: images), projector, its options, loss settings and view set. VICReg's variance weight is 50: solo-learn sums the
#: two views' hinges at weight 25 (solo/losses/vicreg.py), kspectral averages them.
SOLO_LEARN_CIFAR = {
    "vicreg": (0.3, "2048-2048-2048", {"last_bias": True, "layer_defaults": "pytorch"},
               {"invariance_weight": 25.0, "variance_weight": 50.0, "covariance_weight": 1.0}, "solo_vicreg"),
    "simclr": (0.4, "2048-256", {"batchnorm": False, "last_bias": True, "layer_defaults": "pytorch"},
               {"temperature": 0.2, "joint_views": False}, "solo_symmetric"),
    "barlow_twins": (0.3, "2048-2048-2048", {"last_bias": True, "layer_defaults": "pytorch"},
                     {"redundancy_weight": 0.0051, "scale_loss": 0.1}, "solo_asymmetric"),
}
#: Lightly benchmarks.rst, Imagenette, ResNet-18, 800 epochs, batch 256, kNN top-1 (anchors.md §1.4)
LIGHTLY_IMAGENETTE_KNN = {"simclr": "0.889", "barlow_twins": "0.852", "vicreg": "0.845"}


def _values(name):
    return tomllib.loads(find_recipe(name).read_text(encoding="utf-8"))["train"]


def test_the_required_recipes_ship():
    shipped = {(f["method"], f["dataset"]) for f in map(parse_recipe_name, RECIPES)}
    required = {(m, d) for d in DATASETS for m in CORE_METHODS} | {("cissl", "cifar10"), ("dissl", "cifar10")}
    assert required <= shipped, sorted(required - shipped)


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_validates_and_its_name_matches_its_fields(name):
    values = _values(name)
    config = runs.RunConfig.from_dict(values).validate()
    stated = parse_recipe_name(name)
    assert {k: getattr(config, k) for k in stated} == stated
    assert runs.resolve_config(name).to_dict() == config.to_dict()  # resolve_config reads the same fields
    if config.method in CORE_METHODS:  # each states its projector: the default (1024-1024-1024) is no anchor's
        assert values["projector"] == config.projector


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_comment_names_its_target(name):
    fields = parse_recipe_name(name)
    summary = recipe_summary(name)
    assert len(summary.splitlines()) >= 3, "a recipe opens with a comment: what it trains and what it aims at"
    method, dataset = fields["method"], fields["dataset"]
    if dataset in SOLO_LEARN_TOP1 and method in CORE_METHODS:
        assert f"Aims at {SOLO_LEARN_TOP1[dataset][method]} % online linear top-1 (solo-learn" in summary
    elif dataset == "imagenette":
        assert f"Aims at {LIGHTLY_IMAGENETTE_KNN[method]} kNN top-1 (Lightly" in summary
    else:
        assert "No published" in summary


@pytest.mark.parametrize("name", [n for n in RECIPES if parse_recipe_name(n)["dataset"] in SOLO_LEARN_TOP1
                                  and parse_recipe_name(n)["method"] in CORE_METHODS])
def test_cifar_recipes_follow_solo_learn(name):
    config = runs.resolve_config(name)
    learning_rate, projector, projector_options, options, views = SOLO_LEARN_CIFAR[config.method]
    assert (config.encoder, config.stem, config.batch_size, config.epochs) == ("resnet18", "cifar_pad2", 256, 1000)
    assert (config.optimizer, config.lr_scaling, config.warmup_epochs, config.momentum) == ("lars", "linear", 10, 0.9)
    assert config.optimizer_options == {"trust_coefficient": 0.02, "rule": "solo_learn", "clip_lr": True}
    assert config.schedule_options == {"warmup_start": 3e-5, "warmup_law": "pl_bolts"}
    assert math.isclose(config.learning_rate, learning_rate) and math.isclose(config.weight_decay, 1e-4)
    assert (config.projector, config.projector_options) == (projector, projector_options)
    assert {k: config.method_options[k] for k in options} == options
    assert (config.augment, config.normalize, config.augment_options) == (views, config.dataset, {})
    assert (config.classifier_lr, config.online_probe, config.precision) == (0.1, True, "auto")
    assert "9187ea3" in recipe_summary(name) and "docs/protocols.md" in recipe_summary(name)


def test_imagenette_recipes_follow_lightly():
    for method in CORE_METHODS:
        config = runs.resolve_config(f"{method}_resnet18_bs256-800e_imagenette")
        assert (config.image_size, config.stem, config.augment, config.knn_preset) == (128, "imagenet", "simclr",
                                                                                       "instdisc")
        # Lightly's SimCLRTransform: bilinear crops, PIL's σ-sized blur, ImageNet normalisation
        assert config.augment_options == {"blur_kernel": "sigma", "interpolation": "bilinear"}
        assert config.normalize == "imagenet"
        expected = ("lars", 0.3, 1e-4, 40) if method == "vicreg" else ("sgd", 0.06, 5e-4, 0)
        assert (config.optimizer, config.learning_rate, config.weight_decay, config.warmup_epochs) == expected
        assert config.lr_scaling == "linear"


def test_parse_recipe_name_rejects_other_names():
    with pytest.raises(ValueError, match=r"does not follow \{method\}_\{encoder\}_bs\{batch\}"):
        parse_recipe_name("vicreg-cifar10")
    assert parse_recipe_name("simclr_conv_bs8-2e_fashion_mnist.toml") == {
        "method": "simclr", "encoder": "conv", "batch_size": 8, "epochs": 2, "dataset": "fashion_mnist"}


# ---- end to end: every shipped recipe trains 2 steps and probes, offline under tfds.testing.mock_data ----

#: the two recipes that keep ResNet-18 in the end-to-end test, one per stem (CIFAR stem, ImageNet stem). The other
#: ResNet-18 recipes train a small convnet instead: a ResNet-18 recipe costs about 20-25 s here (2 CPU cores; 11 M
#: parameters to build, trace, save and encode), 20 of them would take most of CI's 8 minutes.
KEEP_RESNET = ("vicreg_resnet18_bs256-1000e_cifar10", "vicreg_resnet18_bs256-800e_imagenette")
#: as a user smoke-tests a recipe: one epoch, which is shorter than the recipes' warm-up (it is clipped to the run)
SMOKE = {"epochs": 1, "steps_per_epoch": 2, "batch_size": 8, "baseline_samples": 64}


def smoke_overrides(name):
    """The overrides of the end-to-end test: 2 steps of batch 8, small images where the recipe allows."""
    fields = parse_recipe_name(name)
    overrides = dict(SMOKE)
    if fields["dataset"] in ("stl10", "imagenette"):
        overrides["image_size"] = 32
    if fields["encoder"].startswith("resnet") and name not in KEEP_RESNET:
        overrides.update(encoder="conv", encoder_widths="8-16", stem="auto")
    return overrides


@pytest.mark.slow
@pytest.mark.parametrize("name", RECIPES)
def test_every_recipe_trains_and_probes_offline(name, tmp_path):
    import tensorflow_datasets as tfds

    config = runs.resolve_config(name, **smoke_overrides(name))
    with tfds.testing.mock_data(num_examples=48):
        result = runs.train(config, out=tmp_path / "run")
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    assert metrics["method"] == config.method and metrics["dataset"] == config.dataset
    encoder_row = metrics["probes"][f"{config.method} encoder"]
    assert set(encoder_row) >= {"linear_top1", "knn_top1"}
    for row in metrics["probes"].values():
        for key, value in row.items():
            if key.endswith("top1"):
                assert 0.0 <= value <= 1.0, (name, key, value)
    assert all(math.isfinite(v) for v in metrics["final_train_metrics"].values())
    for key, value in metrics["final_train_metrics"].items():  # the online probes, where the run reports them
        if key.endswith("top1"):
            assert 0.0 <= value <= 1.0, (name, key, value)
    assert (result.run_dir / "model.keras").is_file() and (result.run_dir / "config.json").is_file()
