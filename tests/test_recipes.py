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

#: solo-learn README, ResNet-18 (CIFAR stem), 1000 epochs, batch 256, online linear top-1 (spec/protocols.md §3)
SOLO_LEARN_TOP1 = {
    "cifar10": {"vicreg": "92.07", "simclr": "90.74", "barlow_twins": "92.10", "byol": "92.58", "simsiam": "90.51",
                "mocov3": "93.10", "mocov2": "92.94", "nnclr": "91.88", "dino": "89.52", "swav": "89.17"},
    "cifar100": {"vicreg": "68.54", "simclr": "65.78", "barlow_twins": "70.90", "byol": "70.46", "simsiam": "66.04",
                 "mocov3": "68.83", "mocov2": "69.89", "nnclr": "69.62", "dino": "66.76", "swav": "64.88"},
}
#: solo-learn's LARS (docs/protocols.md §2)
SOLO_LARS = {"trust_coefficient": 0.02, "rule": "solo_learn", "clip_lr": True}
#: solo-learn 9187ea3 scripts/pretrain/cifar/<method>.yaml (docs/protocols.md): optimizer, its options, base learning
#: rate (per 256 images), weight decay, classifier_lr, projector, its options, loss settings (a subset of
#: method_options) and view set. VICReg's variance weight is 50: solo-learn sums the two views' hinges at weight 25
#: (solo/losses/vicreg.py), kspectral averages them. Each method's row is added beside its recipes.
SOLO_LEARN_CIFAR = {
    "vicreg": dict(optimizer="lars", optimizer_options=SOLO_LARS, learning_rate=0.3, weight_decay=1e-4,
                   classifier_lr=0.1, projector="2048-2048-2048",
                   projector_options={"last_bias": True, "layer_defaults": "pytorch"},
                   options={"invariance_weight": 25.0, "variance_weight": 50.0, "covariance_weight": 1.0},
                   augment="solo_vicreg"),
    "simclr": dict(optimizer="lars", optimizer_options=SOLO_LARS, learning_rate=0.4, weight_decay=1e-4,
                   classifier_lr=0.1, projector="2048-256",
                   projector_options={"batchnorm": False, "last_bias": True, "layer_defaults": "pytorch"},
                   options={"temperature": 0.2, "joint_views": False}, augment="solo_symmetric"),
    "barlow_twins": dict(optimizer="lars", optimizer_options=SOLO_LARS, learning_rate=0.3, weight_decay=1e-4,
                         classifier_lr=0.1, projector="2048-2048-2048",
                         projector_options={"last_bias": True, "layer_defaults": "pytorch"},
                         options={"redundancy_weight": 0.0051, "scale_loss": 0.1}, augment="solo_asymmetric"),
    "swav": dict(optimizer="lars", optimizer_options=SOLO_LARS, learning_rate=0.6, weight_decay=1e-6,
                 classifier_lr=0.1, projector="2048-128",
                 projector_options={"last_bias": True, "layer_defaults": "pytorch"},
                 options={"num_prototypes": 3000, "temperature": 0.1, "sinkhorn_iterations": 3, "epsilon": 0.05,
                          "queue_size": 3840, "queue_start_epoch": 50, "freeze_prototypes_epochs": 2,
                          "joint_views": False},
                 augment="solo_symmetric"),
    "byol": dict(optimizer="lars", optimizer_options=SOLO_LARS, learning_rate=1.0, weight_decay=1e-5,
                 classifier_lr=0.1, projector="4096-256",
                 projector_options={"last_bias": True, "layer_defaults": "pytorch"},
                 options={"predictor": "mlp", "predictor_hidden": 4096, "base_tau": 0.99, "final_tau": 1.0},
                 augment="solo_asymmetric"),
    "simsiam": dict(optimizer="sgd", optimizer_options={"exclude_bias_and_norm": False}, learning_rate=0.5,
                    weight_decay=1e-5, classifier_lr=0.1, projector="2048-2048-2048",
                    projector_options={"last_batchnorm": True, "last_bias": False, "layer_defaults": "pytorch"},
                    options={"predictor": "mlp", "predictor_hidden": 512}, augment="solo_symmetric_weak"),
    "nnclr": dict(optimizer="lars", optimizer_options=SOLO_LARS, learning_rate=0.4, weight_decay=1e-5,
                  classifier_lr=0.1, projector="2048-2048-256",
                  projector_options={"last_bias": True, "layer_defaults": "pytorch"},
                  options={"temperature": 0.2, "queue_size": 65536, "predictor_hidden": 4096,
                           "output_batchnorm": True},
                  augment="solo_asymmetric"),
    "mocov3": dict(optimizer="lars", optimizer_options=SOLO_LARS, learning_rate=0.3, weight_decay=1e-6,
                   classifier_lr=0.3, projector="4096-256",
                   projector_options={"last_batchnorm": True, "last_bias": False, "layer_defaults": "pytorch"},
                   options={"predictor_hidden": 4096, "temperature": 0.2, "base_tau": 0.99, "final_tau": 1.0},
                   augment="solo_asymmetric"),
    "mocov2": dict(optimizer="sgd", optimizer_options={"exclude_bias_and_norm": False}, learning_rate=0.3,
                   weight_decay=1e-4, classifier_lr=0.3, projector="2048-256",
                   projector_options={"batchnorm": False, "last_bias": True, "layer_defaults": "pytorch"},
                   options={"queue_size": 32768, "temperature": 0.2, "base_tau": 0.99, "final_tau": 0.999},
                   augment="solo_symmetric_weak"),
    # DINOHead: Linear-GELU ×2 then Linear(256), biases, no BN, trunc_normal_(std=0.02); 4096 prototypes; teacher
    # τ 0.07 (solo-learn's default; no warm-up in the CIFAR config), base_tau 0.9995; one forward per view
    "dino": dict(optimizer="lars", optimizer_options=SOLO_LARS, learning_rate=0.3, weight_decay=1e-6,
                 classifier_lr=0.1, projector="2048-2048-256",
                 projector_options={"layer_defaults": "dino", "activation": "gelu", "batchnorm": False,
                                    "last_bias": True},
                 options={"num_prototypes": 4096, "norm_last_layer": True, "student_temperature": 0.1,
                          "teacher_temperature": 0.07, "warmup_teacher_temperature_epochs": 0,
                          "center_momentum": 0.9, "base_tau": 0.9995, "final_tau": 1.0,
                          "freeze_last_layer_epochs": 1, "joint_views": False},
                 augment="solo_asymmetric"),
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
    if method in SOLO_LEARN_TOP1.get(dataset, {}):
        assert f"Aims at {SOLO_LEARN_TOP1[dataset][method]} % online linear top-1 (solo-learn" in summary
    elif dataset == "imagenette":
        assert f"Aims at {LIGHTLY_IMAGENETTE_KNN[method]} kNN top-1 (Lightly" in summary
    else:
        assert "No published" in summary


@pytest.mark.parametrize("name", [n for n in RECIPES if parse_recipe_name(n)["dataset"] in SOLO_LEARN_TOP1
                                  and parse_recipe_name(n)["method"] in SOLO_LEARN_CIFAR])
def test_cifar_recipes_follow_solo_learn(name):
    config = runs.resolve_config(name)
    row = SOLO_LEARN_CIFAR[config.method]
    assert (config.encoder, config.stem, config.batch_size, config.epochs) == ("resnet18", "cifar_pad2", 256, 1000)
    assert (config.optimizer, config.lr_scaling, config.warmup_epochs, config.momentum) == (row["optimizer"], "linear",
                                                                                             10, 0.9)
    assert config.optimizer_options == row["optimizer_options"]
    assert config.schedule_options == {"warmup_start": 3e-5, "warmup_law": "pl_bolts"}
    assert math.isclose(config.learning_rate, row["learning_rate"])
    assert math.isclose(config.weight_decay, row["weight_decay"])
    assert (config.projector, config.projector_options) == (row["projector"], row["projector_options"])
    assert {k: config.method_options[k] for k in row["options"]} == row["options"]
    assert (config.augment, config.normalize, config.augment_options) == (row["augment"], config.dataset, {})
    assert (config.classifier_lr, config.online_probe, config.precision) == (row["classifier_lr"], True, "auto")
    assert "9187ea3" in recipe_summary(name) and "docs/protocols.md" in recipe_summary(name)


def test_every_solo_learn_method_has_both_cifar_recipes():
    shipped = {(f["method"], f["dataset"]) for f in map(parse_recipe_name, RECIPES)}
    for dataset, table in SOLO_LEARN_TOP1.items():
        for method in table:
            assert (method, dataset) in shipped, f"no {method} recipe for {dataset}"
            assert method in SOLO_LEARN_CIFAR, f"{method}'s solo-learn settings are not in SOLO_LEARN_CIFAR"


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


def end_to_end_recipes(names):
    """The recipes the end-to-end test trains: one per method (its CIFAR-10 recipe where it has one) and one per
    dataset (VICReg's where there is one), chosen greedily in that order of preference. Every other recipe differs
    from one of these only in its method's or its dataset's fields, which the tests above validate for every
    recipe; training each of them again would add ~25 s apiece to the suite."""
    def preference(name):
        fields = parse_recipe_name(name)
        return fields["dataset"] != "cifar10", fields["method"] != "vicreg", name

    chosen, methods_covered, datasets_covered = [], set(), set()
    for name in sorted(names, key=preference):
        fields = parse_recipe_name(name)
        if fields["method"] not in methods_covered or fields["dataset"] not in datasets_covered:
            chosen.append(name)
            methods_covered.add(fields["method"])
            datasets_covered.add(fields["dataset"])
    return sorted(chosen)


def test_the_end_to_end_recipes_cover_every_method_and_dataset():
    chosen = end_to_end_recipes(RECIPES)
    fields = [parse_recipe_name(n) for n in chosen]
    assert {f["method"] for f in fields} == {parse_recipe_name(n)["method"] for n in RECIPES}
    assert {f["dataset"] for f in fields} == {parse_recipe_name(n)["dataset"] for n in RECIPES}
    assert set(KEEP_RESNET) <= set(chosen)
    assert len(chosen) < len(RECIPES)


@pytest.mark.slow
@pytest.mark.parametrize("name", end_to_end_recipes(RECIPES))
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
